//! The live screen: the run on show, the settings of the next run (editable; live keys go to
//! the running run), its popups (a setting's editor, the preset picker, a preset's name), and
//! starting runs: fresh, or the armed fork.

use super::{Ctx, Field};
use crate::dashboard::keymap::Action;
use crate::dashboard::msg::{Effect, ForkTarget, Mode, NetItem, PresetItem};
use crate::dashboard::store::{RunView, Status};
use crossterm::event::KeyEvent;
use gradboard::config::{format_float, key, KeyKind, KeySpec, RunConfig, KEYS};
use gradboard::runner::From;
use gradboard::train::Command;
use std::path::PathBuf;

/// The preset picker: the presets once read, and the one under the cursor.
#[derive(Debug, Clone, Default)]
pub struct Picker {
    /// The presets, `None` while they are being read.
    pub items: Option<Vec<PresetItem>>,
    /// The row under the cursor.
    pub selected: usize,
}

/// A choice setting's list: its values and the one under the cursor.
#[derive(Debug, Clone)]
pub struct ChoiceList {
    /// The setting.
    pub spec: &'static KeySpec,
    /// Its values, in the table's order.
    pub values: &'static [&'static str],
    /// The row under the cursor.
    pub selected: usize,
}

/// The architecture panel: the nets once read, the one under the cursor and its variable
/// under the cursor (each net keeps the values given to it while the panel is open).
#[derive(Debug, Clone, Default)]
pub struct NetPicker {
    /// The nets, `None` while they are being read.
    pub items: Option<Vec<NetItem>>,
    /// The row under the cursor.
    pub selected: usize,
    /// The variable under the cursor.
    pub var: usize,
    /// Why the last change was refused (a variable that breaks the net).
    pub error: Option<String>,
}

impl NetPicker {
    /// The net under the cursor.
    pub fn current(&self) -> Option<&NetItem> {
        self.items.as_ref()?.get(self.selected)
    }
}

/// The live screen's state.
#[derive(Debug, Clone)]
pub struct LiveScreen {
    /// The settings being edited (the next run's).
    pub config: RunConfig,
    /// The preset they came from.
    pub preset: String,
    /// The preset's own settings.
    pub preset_config: Option<RunConfig>,
    /// Selected row of the settings panel.
    pub selected: usize,
    /// The run on show.
    pub current: Option<String>,
    /// The run the next `r` forks from.
    pub fork: Option<ForkTarget>,
    /// The value being typed for the selected setting.
    pub editor: Option<Field>,
    /// The preset picker.
    pub picker: Option<Picker>,
    /// The list of the selected choice setting's values.
    pub choices: Option<ChoiceList>,
    /// The name of a preset to save.
    pub save_name: Option<Field>,
    /// The architecture panel.
    pub nets: Option<NetPicker>,
    /// The data picker.
    pub data: Option<super::data::DataPicker>,
}

impl LiveScreen {
    /// The screen with `config` loaded from preset `preset` (whose own settings are
    /// `preset_config`).
    pub fn new(config: RunConfig, preset: String, preset_config: Option<RunConfig>) -> Self {
        LiveScreen {
            config,
            preset,
            preset_config,
            selected: 0,
            current: None,
            fork: None,
            editor: None,
            picker: None,
            choices: None,
            save_name: None,
            nets: None,
            data: None,
        }
    }

    /// The table entry of the selected settings row.
    pub fn selected_key(&self) -> &'static KeySpec {
        &KEYS[self.selected]
    }

    /// The run on show.
    pub fn run<'a>(&self, cx: &'a crate::dashboard::shared::Shared) -> Option<&'a RunView> {
        self.current.as_deref().and_then(|id| cx.runs.get(id))
    }

    /// The run on show while it can still take commands (started here, not ended).
    fn active_run(&self, cx: &Ctx) -> Option<String> {
        self.run(cx.shared)
            .filter(|r| r.local && r.status().is_active())
            .map(|r| r.run_id.clone())
    }

    /// The run a restart replaces: the shown run when this dashboard trains it, else the one
    /// it trains while the screen shows another (a fork's parent, armed by `F`).
    fn trained_run(&self, cx: &Ctx) -> Option<String> {
        self.active_run(cx).or_else(|| {
            cx.shared
                .runs
                .active_here()
                .find(|r| r.status().is_active() && !r.stopping)
                .map(|r| r.run_id.clone())
        })
    }

    /// The screen's actions.
    pub fn update(&mut self, action: Action, cx: &mut Ctx) -> Vec<Effect> {
        match action {
            Action::Restart => self.restart(cx),
            Action::TogglePause => {
                let Some(run) = self
                    .run(cx.shared)
                    .filter(|r| r.local && r.status().is_active())
                else {
                    cx.shared
                        .warn("no run of this dashboard to pause: press r to start one");
                    return vec![];
                };
                let command = if run.status() == Status::Paused {
                    Command::Resume
                } else {
                    Command::Pause
                };
                vec![Effect::Send {
                    run_id: run.run_id.clone(),
                    command,
                }]
            }
            Action::Stop => {
                let Some(run_id) = self.active_run(cx) else {
                    cx.shared.warn("no run of this dashboard to stop");
                    return vec![];
                };
                if let Some(run) = cx.shared.runs.get_mut(&run_id) {
                    run.stopping = true;
                }
                cx.shared.notify("stopping after the current step");
                vec![Effect::Send {
                    run_id,
                    command: Command::Stop,
                }]
            }
            Action::Up => {
                self.selected = (self.selected + KEYS.len() - 1) % KEYS.len();
                vec![]
            }
            Action::Down => {
                self.selected = (self.selected + 1) % KEYS.len();
                vec![]
            }
            Action::Edit => self.edit_selected(cx),
            Action::LrUp | Action::LrDown => {
                let factor = if action == Action::LrUp { 2.0 } else { 0.5 };
                let value = format_float(self.config.lr * factor);
                self.set_value(key_spec("lr"), &value, cx)
            }
            Action::Presets => {
                self.picker = Some(Picker::default());
                *cx.mode = Mode::Presets;
                vec![Effect::ListPresets]
            }
            Action::Nets => {
                self.nets = Some(NetPicker::default());
                *cx.mode = Mode::Nets;
                vec![Effect::ListNets]
            }
            Action::Data => {
                self.data = Some(super::data::DataPicker::new(&cx.shared.data_source()));
                *cx.mode = Mode::Data;
                vec![Effect::ListData]
            }
            Action::SavePreset => {
                self.save_name = Some(Field::new(""));
                *cx.mode = Mode::SaveName;
                vec![]
            }
            _ => vec![],
        }
    }

    /// Starts a run with the edited settings (the armed fork, if any), stopping the run on
    /// show first when this dashboard started it.
    pub fn restart(&mut self, cx: &mut Ctx) -> Vec<Effect> {
        if !cx.shared.data_ready() {
            cx.shared.warn("the data set is not ready yet");
            return vec![];
        }
        if let Err(e) = self.config.validate() {
            cx.shared.warn(format!("cannot start: {e}"));
            return vec![];
        }
        let mut effects = Vec::new();
        if let Some(run_id) = self.trained_run(cx) {
            if let Some(run) = cx.shared.runs.get_mut(&run_id) {
                run.stopping = true;
            }
            effects.push(Effect::Send {
                run_id,
                command: Command::Stop,
            });
        }
        let from = match self.fork.take() {
            Some(target) => From::Fork(target.dir),
            None => From::New,
        };
        effects.push(Effect::Start {
            preset: self.preset.clone(),
            config: Box::new(self.config.clone()),
            base: self.preset_config.clone().map(Box::new),
            from,
        });
        effects
    }

    fn edit_selected(&mut self, cx: &mut Ctx) -> Vec<Effect> {
        let spec = self.selected_key();
        match spec.kind() {
            KeyKind::Choice(values) => {
                let current = spec.get(&self.config);
                self.choices = Some(ChoiceList {
                    spec,
                    values,
                    selected: values.iter().position(|v| *v == current).unwrap_or(0),
                });
                *cx.mode = Mode::Choices;
            }
            _ => {
                self.editor = Some(Field::new(&spec.get(&self.config)));
                *cx.mode = Mode::Editing;
            }
        }
        vec![]
    }

    /// A key while a choice setting's list is open: move, take the value, or close.
    pub fn on_choices_key(&mut self, action: Option<Action>, cx: &mut Ctx) -> Vec<Effect> {
        let Some(mut list) = self.choices.take() else {
            return vec![];
        };
        let n = list.values.len();
        match action {
            Some(Action::Cancel) => return vec![],
            Some(Action::Up) if n > 0 => list.selected = (list.selected + n - 1) % n,
            Some(Action::Down) if n > 0 => list.selected = (list.selected + 1) % n,
            Some(Action::Accept) if n > 0 => {
                return self.set_value(list.spec, list.values[list.selected], cx);
            }
            _ => {}
        }
        self.choices = Some(list);
        *cx.mode = Mode::Choices;
        vec![]
    }

    /// Sets a key in the edited settings; a live key also goes to the running run.
    pub fn set_value(&mut self, spec: &'static KeySpec, text: &str, cx: &mut Ctx) -> Vec<Effect> {
        let mut candidate = self.config.clone();
        if let Err(e) = spec.set(&mut candidate, text) {
            cx.shared.warn(e.to_string());
            return vec![];
        }
        self.config = candidate;
        let value = spec.get(&self.config);
        let name = spec.name;
        if let Err(e) = self.config.validate() {
            cx.shared
                .warn(format!("{name} = {value}; before restarting: {e}"));
            return vec![];
        }
        let active = self
            .run(cx.shared)
            .filter(|r| r.local && r.status().is_active())
            .map(|r| (r.run_id.clone(), r.config.clone()));
        match active {
            Some((run_id, mut live)) if spec.live => {
                if let Err(e) = spec.set(&mut live, text).and_then(|_| live.validate()) {
                    cx.shared.warn(format!(
                        "{name} = {value} for the next run; the running run refuses it: {e}"
                    ));
                    return vec![];
                }
                cx.shared.notify(format!(
                    "{name} = {value}: the running run takes it from its next step"
                ));
                vec![Effect::Send {
                    run_id,
                    command: Command::Set {
                        key: name.to_string(),
                        value,
                    },
                }]
            }
            Some(_) => {
                cx.shared.notify(format!(
                    "{name} = {value} (needs a restart: r restarts with it)"
                ));
                vec![]
            }
            None => {
                cx.shared
                    .notify(format!("{name} = {value} (r starts a run with it)"));
                vec![]
            }
        }
    }

    /// A key while the selected setting's value is being typed.
    pub fn on_editor_key(
        &mut self,
        action: Option<Action>,
        key: KeyEvent,
        cx: &mut Ctx,
    ) -> Vec<Effect> {
        let Some(mut field) = self.editor.take() else {
            return vec![];
        };
        match action {
            Some(Action::Cancel) => {
                cx.shared.notify("edit cancelled");
                vec![]
            }
            Some(Action::Accept) => {
                let spec = self.selected_key();
                let mut candidate = self.config.clone();
                match spec.set(&mut candidate, field.input.value()) {
                    Ok(()) => self.set_value(spec, field.input.value(), cx),
                    Err(e) => {
                        field.error = Some(e.to_string());
                        self.editor = Some(field);
                        *cx.mode = Mode::Editing;
                        vec![]
                    }
                }
            }
            _ => {
                field.type_key(key);
                self.editor = Some(field);
                *cx.mode = Mode::Editing;
                vec![]
            }
        }
    }

    /// A key while a preset's name is being typed.
    pub fn on_save_key(
        &mut self,
        action: Option<Action>,
        key: KeyEvent,
        cx: &mut Ctx,
    ) -> Vec<Effect> {
        let Some(mut field) = self.save_name.take() else {
            return vec![];
        };
        match action {
            Some(Action::Cancel) => vec![],
            Some(Action::Accept) => {
                let name = field.input.value().trim().to_string();
                cx.shared.notify(format!("saving preset {name}..."));
                vec![Effect::SavePreset {
                    name,
                    description: format!("saved from the dashboard (based on {})", self.preset),
                    config: Box::new(self.config.clone()),
                }]
            }
            _ => {
                field.type_key(key);
                self.save_name = Some(field);
                *cx.mode = Mode::SaveName;
                vec![]
            }
        }
    }

    /// A saved preset (the settings are now its own), or why it was not saved (the name is
    /// asked for again).
    pub fn on_preset_saved(&mut self, result: Result<(String, PathBuf), String>, cx: &mut Ctx) {
        match result {
            Ok((name, path)) => {
                self.preset_config = Some(self.config.clone());
                self.preset = name;
                cx.shared.notify(format!("saved preset {}", path.display()));
            }
            Err(e) => {
                cx.shared.warn(format!("preset not saved: {e}"));
                let mut field = Field::new("");
                field.error = Some(e);
                self.save_name = Some(field);
                *cx.mode = Mode::SaveName;
            }
        }
    }

    /// The presets the picker lists, once read.
    pub fn on_presets(&mut self, result: Result<Vec<PresetItem>, String>, cx: &mut Ctx) {
        let picker_open = *cx.mode == Mode::Presets;
        match result {
            Ok(items) if !items.is_empty() => {
                let selected = items
                    .iter()
                    .position(|p| p.name == self.preset)
                    .unwrap_or(0);
                if picker_open {
                    self.picker = Some(Picker {
                        items: Some(items),
                        selected,
                    });
                }
            }
            Ok(_) => {
                cx.shared.warn("no presets found");
                self.close_picker(cx);
            }
            Err(e) => {
                cx.shared.warn(e);
                self.close_picker(cx);
            }
        }
    }

    fn close_picker(&mut self, cx: &mut Ctx) {
        self.picker = None;
        if *cx.mode == Mode::Presets {
            *cx.mode = Mode::Normal;
        }
    }

    /// A key while the preset picker is open.
    pub fn on_picker_key(&mut self, action: Option<Action>, cx: &mut Ctx) -> Vec<Effect> {
        let Some(mut picker) = self.picker.take() else {
            return vec![];
        };
        let n = picker.items.as_ref().map_or(0, Vec::len);
        match action {
            Some(Action::Cancel) => return vec![],
            Some(Action::Up) if n > 0 => picker.selected = (picker.selected + n - 1) % n,
            Some(Action::Down) if n > 0 => picker.selected = (picker.selected + 1) % n,
            Some(action @ (Action::Accept | Action::LoadPreset)) if n > 0 => {
                let item = picker.items.as_ref().expect("items")[picker.selected].clone();
                self.fork = None;
                self.preset_config = Some(item.config.clone());
                self.config = item.config;
                self.preset = item.name;
                if action == Action::Accept {
                    return self.restart(cx);
                }
                cx.shared.notify(format!(
                    "preset {} loaded into the settings: r starts it",
                    self.preset
                ));
                return vec![];
            }
            _ => {}
        }
        self.picker = Some(picker);
        *cx.mode = Mode::Presets;
        vec![]
    }

    /// The nets the architecture panel lists, once read (the settings' own net selected, with
    /// its variables as the settings have them).
    pub fn on_nets(&mut self, result: Result<Vec<NetItem>, String>, cx: &mut Ctx) {
        if *cx.mode != Mode::Nets {
            return;
        }
        match result {
            Ok(mut items) => {
                let current = self.config.net.as_ref();
                let selected = current
                    .and_then(|n| items.iter().position(|i| i.name == n.name))
                    .unwrap_or(0);
                if let (Some(n), Some(item)) = (current, items.get_mut(selected)) {
                    if item.name == n.name {
                        item.net = n.clone();
                    }
                }
                self.nets = Some(NetPicker {
                    items: Some(items),
                    selected,
                    ..NetPicker::default()
                });
            }
            Err(e) => {
                cx.shared.warn(e);
                self.nets = None;
                *cx.mode = Mode::Normal;
            }
        }
    }

    /// A key while the architecture panel is open: ↑↓ a net, ←→ a variable, + - change it,
    /// Enter puts the net in the settings (r starts a run with it).
    pub fn on_nets_key(&mut self, action: Option<Action>, cx: &mut Ctx) -> Vec<Effect> {
        let Some(mut panel) = self.nets.take() else {
            *cx.mode = Mode::Normal;
            return vec![];
        };
        let n = panel.items.as_ref().map_or(0, Vec::len);
        let vars = panel.current().map_or(0, |i| i.net.vars().len());
        match action {
            Some(Action::Cancel) => {
                *cx.mode = Mode::Normal;
                return vec![];
            }
            Some(Action::Up) if n > 0 => {
                panel.selected = (panel.selected + n - 1) % n;
                panel.var = 0;
            }
            Some(Action::Down) if n > 0 => {
                panel.selected = (panel.selected + 1) % n;
                panel.var = 0;
            }
            Some(Action::Left) if vars > 0 => panel.var = (panel.var + vars - 1) % vars,
            Some(Action::Right) if vars > 0 => panel.var = (panel.var + 1) % vars,
            Some(action @ (Action::VarUp | Action::VarDown)) if vars > 0 => {
                let factor = if action == Action::VarUp { 2.0 } else { 0.5 };
                let item = &mut panel.items.as_mut().expect("items")[panel.selected];
                let (name, value) = item.net.vars()[panel.var].clone();
                let next = if value.fract() == 0.0 {
                    (value * factor).round().max(1.0)
                } else {
                    value * factor
                };
                panel.error = item
                    .net
                    .set_var(&name, &format_float(next))
                    .err()
                    .map(|e| e.to_string());
            }
            Some(Action::Accept) if n > 0 => {
                let item = panel.current().expect("a net under the cursor").clone();
                let mut config = self.config.clone();
                config.net = Some(item.net.clone());
                config.model = gradboard::config::ModelKind::Net;
                config.engine = gradboard::config::Engine::Autograd;
                config.norm = gradboard::config::Norm::None;
                match config.validate() {
                    Ok(()) => {
                        let params = gradboard::model::summary::thousands(
                            gradboard::model::memory::estimate(&config, cx.shared.data_shape())
                                .parameters,
                        );
                        self.config = config;
                        self.fork = None;
                        cx.shared.notify(format!(
                            "net {} ({params} parameters) in the settings: r starts a run with it",
                            item.name
                        ));
                        *cx.mode = Mode::Normal;
                        return vec![];
                    }
                    Err(e) => panel.error = Some(e.to_string()),
                }
            }
            _ => {}
        }
        self.nets = Some(panel);
        *cx.mode = Mode::Nets;
        vec![]
    }

    /// A fork's parent, read from its checkpoint: its settings go to the panel, its charts
    /// beside them (not the run the screen showed before), and the next `r` starts the fork.
    pub fn on_fork_ready(&mut self, target: ForkTarget, cx: &mut Ctx) -> Vec<Effect> {
        self.current = Some(target.run_id.clone());
        let load = cx.shared.ensure_loaded(&target.run_id);
        self.config = target.config.clone();
        self.preset = target.preset.clone();
        self.preset_config = target.preset_config.clone();
        self.selected = KEYS.iter().position(|k| k.name == "lr").unwrap_or(0);
        cx.shared.notify(format!(
            "fork of {} at step {}: change the settings (the network stays), r starts it",
            target.run_id, target.step
        ));
        self.fork = Some(target);
        load
    }
}

fn key_spec(name: &str) -> &'static KeySpec {
    key(name).expect("a key of the table")
}
