//! The data picker's state: the sources it lists (CIFAR-10 by default, the recent ones), the
//! path field (empty: the source under the cursor; any path can be typed), and the data set
//! last read with its summary. Enter reads the path; Enter again, on the same path, trains on
//! it from the next run.

use super::{Ctx, Field};
use crate::dashboard::keymap::Action;
use crate::dashboard::msg::{Effect, Mode, OpenedData};
use crossterm::event::KeyEvent;
use std::path::PathBuf;

/// The data picker.
#[derive(Debug, Clone)]
pub struct DataPicker {
    /// The sources listed: CIFAR-10's (the default), then the recent ones.
    pub sources: Vec<PathBuf>,
    /// The source under the cursor.
    pub selected: usize,
    /// The path to read (empty: the source under the cursor).
    pub field: Field,
    /// The data set in use.
    pub current: PathBuf,
    /// Being read now.
    pub reading: Option<PathBuf>,
    /// The data set last read for the picker.
    pub opened: Option<Box<OpenedData>>,
}

impl DataPicker {
    /// A picker with the cursor on `current`, the data set in use, once the sources are read.
    pub fn new(current: &str) -> Self {
        DataPicker {
            sources: Vec::new(),
            selected: 0,
            field: Field::new(""),
            current: PathBuf::from(current),
            reading: None,
            opened: None,
        }
    }

    /// The listed sources, once read; the cursor on the one in the field, if listed.
    pub fn on_sources(&mut self, sources: Vec<PathBuf>) {
        self.selected = sources.iter().position(|s| *s == self.current).unwrap_or(0);
        self.sources = sources;
    }

    /// A data set read, or why not.
    pub fn on_opened(&mut self, result: Result<Box<OpenedData>, String>) {
        self.reading = None;
        match result {
            Ok(opened) => {
                self.field.error = None;
                self.opened = Some(opened);
            }
            Err(e) => {
                self.field.error = Some(e);
                self.opened = None;
            }
        }
    }

    /// The path Enter reads: the one typed, else the source under the cursor.
    pub fn path(&self) -> PathBuf {
        match self.field.input.value().trim() {
            "" => self.sources.get(self.selected).cloned().unwrap_or_default(),
            typed => PathBuf::from(typed),
        }
    }

    /// A key: arrows move over the sources (filling the field), Enter reads the path or, when
    /// it was read, uses it; Esc closes; anything else is typed into the path.
    pub fn on_key(
        &mut self,
        action: Option<Action>,
        key: KeyEvent,
        options: gradboard::data::DataOptions,
        cx: &mut Ctx,
    ) -> Vec<Effect> {
        // The picker stays open unless Esc closes it or Enter trains on the data read.
        *cx.mode = Mode::Data;
        match action {
            Some(Action::Cancel) => {
                *cx.mode = Mode::Normal;
                vec![]
            }
            Some(Action::Up | Action::Down) if !self.sources.is_empty() => {
                let n = self.sources.len();
                self.selected = match action {
                    Some(Action::Up) => (self.selected + n - 1) % n,
                    _ => (self.selected + 1) % n,
                };
                self.field = Field::new("");
                vec![]
            }
            Some(Action::Accept) => {
                let path = self.path();
                if path.as_os_str().is_empty() {
                    self.field.error = Some("type a path, or pick a source with ↑↓".into());
                    return vec![];
                }
                if self.reading.is_some() {
                    return vec![];
                }
                match self.opened.take() {
                    Some(opened) if opened.path == path => {
                        *cx.mode = Mode::Normal;
                        vec![Effect::UseData(opened)]
                    }
                    _ => {
                        self.reading = Some(path.clone());
                        vec![Effect::OpenData { path, options }]
                    }
                }
            }
            _ => {
                self.field.type_key(key);
                vec![]
            }
        }
    }
}
