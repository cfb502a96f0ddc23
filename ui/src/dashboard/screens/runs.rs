//! The runs screen: every run of the runs folder in a table sorted by a column or by any
//! figure or setting, filtered by words (`lr>0.01 optimizer=adam tag:baseline`), with a
//! cursor; marking runs for comparison, opening, forking, resuming and exporting them; naming,
//! tagging, annotating, archiving and deleting them. The order shown is worked out when the
//! listing, the sort or the filter changes, not at every frame.

use super::{Ctx, Field, Request};
use crate::dashboard::keymap::Action;
use crate::dashboard::msg::{Effect, Mode, Screen};
use crate::dashboard::shared::Listing;
use crossterm::event::{KeyCode, KeyEvent};
use gradboard::events::RunStatus;
use gradboard::runner::From;
use gradboard::runs::groups::{group_runs, RunGroup};
use gradboard::runs::query::{self, Filter};
use gradboard::runs::{LabelEdit, ListedStatus, RunRecord};
use std::cmp::Ordering;

/// Rows a page key moves.
const PAGE: isize = 15;

/// The table's columns, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// The run id (sorts by start time).
    Run,
    /// The preset.
    Preset,
    /// The network.
    Net,
    /// The keys that differ from the preset.
    Changed,
    /// The status.
    Status,
    /// The last step.
    Steps,
    /// The best test accuracy.
    Best,
    /// The last test accuracy.
    Final,
    /// Training seconds.
    Time,
    /// The sweep it belongs to, and its place there.
    Sweep,
    /// The run it was forked from, and the step.
    Parent,
    /// The field or setting the screen was last sorted by with `o` (`RunsScreen::key`).
    Key,
}

impl Column {
    /// The columns a digit sorts by, in display order (sweep, parent and the key column
    /// follow them).
    pub const ALL: [Column; 9] = [
        Column::Run,
        Column::Preset,
        Column::Net,
        Column::Changed,
        Column::Status,
        Column::Steps,
        Column::Best,
        Column::Final,
        Column::Time,
    ];

    /// The header.
    pub fn title(self) -> &'static str {
        match self {
            Column::Run => "run",
            Column::Preset => "preset",
            Column::Net => "net",
            Column::Changed => "changed",
            Column::Status => "status",
            Column::Steps => "steps",
            Column::Best => "best test",
            Column::Final => "final test",
            Column::Time => "time",
            Column::Sweep => "sweep",
            Column::Parent => "parent",
            Column::Key => "key",
        }
    }

    /// The field of `runs::query` it sorts by.
    fn field(self) -> Option<&'static str> {
        Some(match self {
            Column::Sweep => "sweep",
            Column::Parent => "parent",
            _ => return None,
        })
    }
}

/// The sweep column's text: the sweep id's own suffix and the run's place, `5135 #4` (the
/// full id is in the run's start and `sweep show`).
pub fn sweep_text(r: &RunRecord) -> String {
    r.sweep.as_ref().map_or(String::new(), |s| {
        let tail = s.id.rsplit('-').next().unwrap_or(&s.id);
        format!("{tail} #{}", s.index)
    })
}

/// The parent column's text: the parent's id without its date, and the step forked at.
pub fn parent_text(r: &RunRecord) -> String {
    r.parent.as_ref().map_or(String::new(), |p| {
        let short = p.run_id.splitn(3, '-').nth(2).unwrap_or(&p.run_id);
        format!("{short}@{}", p.step)
    })
}

/// The run column's text: its name and the end of its id, or its id.
pub fn run_text(r: &RunRecord) -> String {
    let archived = if r.labels.archived { " (archived)" } else { "" };
    match &r.labels.name {
        Some(name) => {
            let tail = r.run_id.rsplit('-').next().unwrap_or(&r.run_id);
            format!("{name} · {tail}{archived}")
        }
        None => format!("{}{archived}", r.run_id),
    }
}

/// What a prompt on the runs screen asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// A field or setting to sort by (`lr`, `-best` for largest first).
    SortBy,
    /// The run's name.
    Name,
    /// Tags to add (`-tag` removes).
    Tags,
    /// A note.
    Note,
}

impl Prompt {
    /// Its label in the prompt line.
    pub fn label(self) -> &'static str {
        match self {
            Prompt::SortBy => {
                "sort by (a figure or setting: lr, best, seconds; -lr: largest first)"
            }
            Prompt::Name => "name (empty: none)",
            Prompt::Tags => "tags (word adds, -word removes)",
            Prompt::Note => "note (empty: none)",
        }
    }
}

/// The `changed` column's text: `key=value` pairs of the settings it started with, then its
/// live changes (`lr 0.001 -> 0.003 @244`).
pub fn changed_text(r: &RunRecord) -> String {
    query::changed_words(r, &Default::default(), false)
}

fn cmp_opt(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => Ordering::Equal,
    }
}

fn compare(column: Column, key: &str, a: &RunRecord, b: &RunRecord) -> Ordering {
    match column {
        Column::Key | Column::Sweep | Column::Parent => {
            let field = column.field().unwrap_or(key);
            match (query::value(a, field), query::value(b, field)) {
                (Some(x), Some(y)) => query::compare(&Some(x), &Some(y)),
                (x, y) => x.is_some().cmp(&y.is_some()),
            }
        }
        Column::Run => a
            .started
            .total_cmp(&b.started)
            .then(a.run_id.cmp(&b.run_id)),
        Column::Preset => a.preset.cmp(&b.preset),
        Column::Net => a.net.cmp(&b.net),
        Column::Changed => changed_text(a).cmp(&changed_text(b)),
        Column::Status => a.status.as_str().cmp(b.status.as_str()),
        Column::Steps => a.step.cmp(&b.step),
        Column::Best => cmp_opt(a.best_test_acc, b.best_test_acc),
        Column::Final => cmp_opt(a.final_test_acc, b.final_test_acc),
        Column::Time => a.seconds.total_cmp(&b.seconds),
    }
}

/// The runs screen's state: order, filter, cursor.
#[derive(Debug, Clone)]
pub struct RunsScreen {
    /// The sort column and whether it is descending.
    pub sort: (Column, bool),
    /// The filter's words (`query::Filter`: `lr>0.01`, `tag:x`, or text in any column).
    pub filter: String,
    /// The filter read, or why its words cannot be read.
    parsed: Result<Filter, String>,
    /// The filter being typed.
    pub filter_field: Option<Field>,
    /// A question being answered: a sort field, a name, tags, a note.
    pub prompt: Option<(Prompt, Field)>,
    /// The field or setting the key column shows and `o` sorted by.
    pub key: Option<String>,
    /// The run a first `D` asked to delete; a second `D` on it deletes it.
    pending_delete: Option<String>,
    /// The setting keys that tell the rows shown apart (they lead each row's changed
    /// settings), worked out with the order.
    pub leading: std::collections::BTreeSet<String>,
    /// Index of the cursor in the visible rows.
    pub cursor: usize,
    /// The run under the cursor, which a new scan keeps the cursor on.
    cursor_id: Option<String>,
    /// The listing's indices of the visible rows, in order (grouped: each group's first run).
    visible: Vec<usize>,
    /// Whether runs that differ only by seed fold into one row.
    pub grouped: bool,
    /// The group of each visible row, while grouped.
    groups: Vec<RunGroup>,
}

impl Default for RunsScreen {
    fn default() -> Self {
        RunsScreen {
            sort: (Column::Run, true),
            filter: String::new(),
            parsed: Ok(Filter::default()),
            filter_field: None,
            prompt: None,
            key: None,
            pending_delete: None,
            leading: Default::default(),
            cursor: 0,
            cursor_id: None,
            visible: Vec::new(),
            grouped: false,
            groups: Vec::new(),
        }
    }
}

impl RunsScreen {
    /// Whether run `r` is shown: it passes the filter, and is not archived unless the filter
    /// asks for archived runs.
    fn matches(&self, r: &RunRecord) -> bool {
        let shown = match &self.parsed {
            Ok(f) => f.wants_archived() || !r.labels.archived,
            Err(_) => !r.labels.archived,
        };
        shown
            && self
                .parsed
                .as_ref()
                .map_or(true, |f| f.is_empty() || f.matches(r, &query::row_text(r)))
    }

    /// Why the filter's words cannot be read, if they cannot.
    pub fn filter_error(&self) -> Option<&str> {
        self.parsed.as_ref().err().map(String::as_str)
    }

    /// Works the visible rows out again from a new scan, keeping the cursor on its run where
    /// it can.
    pub fn refresh(&mut self, listing: &Listing) {
        self.order(listing);
        if let Some(id) = &self.cursor_id {
            if let Some(i) = self
                .visible
                .iter()
                .position(|&i| listing.records[i].run_id == *id)
            {
                self.cursor = i;
            }
        }
        self.clamp(listing);
    }

    /// Keeps the cursor inside the rows and remembers its run.
    fn clamp(&mut self, listing: &Listing) {
        self.cursor = self.cursor.min(self.visible.len().saturating_sub(1));
        self.cursor_id = self.current(listing).map(|r| r.run_id.clone());
    }

    /// Filters and sorts the listing's rows.
    fn order(&mut self, listing: &Listing) {
        let mut rows: Vec<usize> = (0..listing.records.len())
            .filter(|&i| self.matches(&listing.records[i]))
            .collect();
        let (column, descending) = self.sort;
        let key = self.key.clone().unwrap_or_default();
        rows.sort_by(|&a, &b| {
            let o = compare(column, &key, &listing.records[a], &listing.records[b]);
            if descending {
                o.reverse()
            } else {
                o
            }
        });
        if self.grouped {
            let records: Vec<RunRecord> =
                rows.iter().map(|&i| listing.records[i].clone()).collect();
            let mut groups = group_runs(&records);
            if matches!(column, Column::Best | Column::Final) {
                let figure = |g: &RunGroup| match column {
                    Column::Best => g.best_mean,
                    _ => g.final_mean,
                };
                groups.sort_by(|a, b| {
                    let o = cmp_opt(figure(a), figure(b));
                    if descending {
                        o.reverse()
                    } else {
                        o
                    }
                });
            }
            rows = groups
                .iter()
                .filter_map(|g| listing.records.iter().position(|r| r.run_id == g.runs[0]))
                .collect();
            self.groups = groups;
        } else {
            self.groups.clear();
        }
        let shown: Vec<&RunRecord> = rows.iter().map(|&i| &listing.records[i]).collect();
        self.leading = query::varying_keys(&shown);
        self.visible = rows;
    }

    /// The group of visible row `i`, while grouped.
    pub fn group(&self, i: usize) -> Option<&RunGroup> {
        self.groups.get(i)
    }

    /// The rows shown: filtered, then sorted.
    pub fn visible<'a>(&self, listing: &'a Listing) -> Vec<&'a RunRecord> {
        self.visible
            .iter()
            .filter_map(|&i| listing.records.get(i))
            .collect()
    }

    /// The run under the cursor.
    pub fn current<'a>(&self, listing: &'a Listing) -> Option<&'a RunRecord> {
        self.visible
            .get(self.cursor)
            .and_then(|&i| listing.records.get(i))
    }

    fn move_by(&mut self, delta: isize, listing: &Listing) {
        let n = self.visible.len() as isize;
        if n > 0 {
            self.cursor = (self.cursor as isize + delta).clamp(0, n - 1) as usize;
        }
        self.clamp(listing);
    }

    /// Sorts by `column`; the same column again reverses the order.
    pub fn sort_by(&mut self, column: Column, listing: &Listing) {
        self.sort = if self.sort.0 == column {
            (column, !self.sort.1)
        } else {
            // Figures read best from the top; names from A.
            let descending = matches!(
                column,
                Column::Run | Column::Steps | Column::Best | Column::Final | Column::Time
            );
            (column, descending)
        };
        self.order(listing);
        self.clamp(listing);
    }

    /// Sorts by field or setting `name` (`-name`: largest first), shown in the key column;
    /// an unknown name is refused with the fields it takes.
    pub fn sort_by_field(&mut self, text: &str, listing: &Listing) -> Result<(), String> {
        let text = text.trim();
        let (name, descending) = match text.strip_prefix('-') {
            Some(n) => (n.trim(), true),
            None => (text, false),
        };
        query::check_field(name).map_err(|e| e.to_string())?;
        self.key = Some(name.to_string());
        self.sort = (Column::Key, descending);
        self.order(listing);
        self.clamp(listing);
        Ok(())
    }

    /// Sets the filter text.
    pub fn set_filter(&mut self, text: &str, listing: &Listing) {
        self.filter = text.to_string();
        self.parsed = Filter::parse(text).map_err(|e| e.to_string());
        self.cursor = 0;
        self.order(listing);
        self.clamp(listing);
    }

    /// The screen's actions.
    pub fn update(&mut self, action: Action, key: &KeyEvent, cx: &mut Ctx) -> Vec<Effect> {
        match action {
            Action::Up => self.move_by(-1, &cx.shared.listing),
            Action::Down => self.move_by(1, &cx.shared.listing),
            Action::PageUp => self.move_by(-PAGE, &cx.shared.listing),
            Action::PageDown => self.move_by(PAGE, &cx.shared.listing),
            Action::Sort => {
                if let KeyCode::Char(c) = key.code {
                    let n = c.to_digit(10).unwrap_or(1) as usize;
                    if let Some(&column) = Column::ALL.get(n.saturating_sub(1)) {
                        self.sort_by(column, &cx.shared.listing);
                    }
                }
            }
            Action::Filter => {
                self.filter_field = Some(Field::new(&self.filter));
                *cx.mode = Mode::Filtering;
            }
            Action::ToggleGroups => {
                self.grouped = !self.grouped;
                self.order(&cx.shared.listing);
                self.clamp(&cx.shared.listing);
                cx.shared.notify(if self.grouped {
                    "runs that differ only by seed fold into groups; compare draws a group as its mean and band"
                } else {
                    "every run on its own row"
                });
            }
            Action::Mark if self.grouped => {
                let Some(group) = self.groups.get(self.cursor).cloned() else {
                    return vec![];
                };
                if group.runs.iter().all(|id| cx.shared.marked.contains(id)) {
                    cx.shared.marked.retain(|m| !group.runs.contains(m));
                    return vec![];
                }
                let mut effects = Vec::new();
                for id in group.runs {
                    if !cx.shared.marked.contains(&id) {
                        cx.shared.marked.push(id.clone());
                        effects.extend(cx.shared.ensure_loaded(&id));
                    }
                }
                return effects;
            }
            Action::Mark => {
                let Some(id) = self.current(&cx.shared.listing).map(|r| r.run_id.clone()) else {
                    return vec![];
                };
                let marked = &mut cx.shared.marked;
                if let Some(i) = marked.iter().position(|m| *m == id) {
                    marked.remove(i);
                } else {
                    marked.push(id.clone());
                    return cx.shared.ensure_loaded(&id);
                }
            }
            Action::Compare => {
                if cx.shared.marked.is_empty() {
                    if let Some(id) = self.current(&cx.shared.listing).map(|r| r.run_id.clone()) {
                        cx.shared.marked.push(id);
                    }
                }
                cx.requests.push(Request::Show(Screen::Compare));
            }
            Action::Open => match self.current(&cx.shared.listing) {
                Some(r) => cx.requests.push(Request::Open(r.run_id.clone())),
                None => cx.shared.warn("no run here"),
            },
            Action::Fork => match self.current(&cx.shared.listing).cloned() {
                Some(r) => {
                    cx.shared
                        .notify(format!("reading the checkpoint of {}...", r.run_id));
                    return vec![Effect::ReadFork {
                        run_id: r.run_id,
                        dir: r.dir,
                        preset: r.preset,
                    }];
                }
                None => cx.shared.warn("no run here"),
            },
            Action::Resume => return self.resume_current(cx),
            Action::SortByField => {
                let now = match (&self.key, self.sort) {
                    (Some(k), (Column::Key, true)) => format!("-{k}"),
                    (Some(k), _) => k.clone(),
                    (None, _) => String::new(),
                };
                self.prompt = Some((Prompt::SortBy, Field::new(&now)));
                *cx.mode = Mode::Filtering;
            }
            Action::NameRun | Action::TagRun | Action::NoteRun => {
                let Some(r) = self.current(&cx.shared.listing) else {
                    cx.shared.warn("no run here");
                    return vec![];
                };
                let (prompt, now) = match action {
                    Action::NameRun => (Prompt::Name, r.labels.name.clone().unwrap_or_default()),
                    Action::TagRun => (Prompt::Tags, String::new()),
                    _ => (Prompt::Note, r.labels.note.clone().unwrap_or_default()),
                };
                self.prompt = Some((prompt, Field::new(&now)));
                *cx.mode = Mode::Filtering;
            }
            Action::ArchiveRun => {
                let Some(r) = self.current(&cx.shared.listing).cloned() else {
                    cx.shared.warn("no run here");
                    return vec![];
                };
                let archive = !r.labels.archived;
                cx.shared.notify(if archive {
                    format!("{} archived: hidden unless the filter says is:archived (z again brings it back)", r.run_id)
                } else {
                    format!("{} is no longer archived", r.run_id)
                });
                return vec![Effect::Label {
                    dir: r.dir.clone(),
                    edit: LabelEdit::Archived(archive),
                }];
            }
            Action::DeleteRun => {
                let Some(r) = self.current(&cx.shared.listing).cloned() else {
                    cx.shared.warn("no run here");
                    return vec![];
                };
                if r.status == ListedStatus::Running {
                    cx.shared
                        .warn(format!("{} is still training: stop it first", r.run_id));
                    return vec![];
                }
                if self.pending_delete.as_deref() != Some(r.run_id.as_str()) {
                    cx.shared.warn(format!(
                        "D again deletes {} (its folder moves to .trash in the runs folder)",
                        r.run_id
                    ));
                    self.pending_delete = Some(r.run_id);
                    return vec![];
                }
                self.pending_delete = None;
                cx.shared.marked.retain(|m| *m != r.run_id);
                return vec![Effect::Trash(r.dir)];
            }
            Action::Export => {
                let current = self.current(&cx.shared.listing).map(|r| r.run_id.clone());
                return export_marked(current, cx);
            }
            _ => {}
        }
        vec![]
    }

    fn resume_current(&mut self, cx: &mut Ctx) -> Vec<Effect> {
        let Some(record) = self.current(&cx.shared.listing).cloned() else {
            cx.shared.warn("no run here");
            return vec![];
        };
        match record.status {
            ListedStatus::Crashed | ListedStatus::Ended(RunStatus::Stopped | RunStatus::Pruned) => {
            }
            other => {
                cx.shared.warn(format!(
                    "run {} is {}: only stopped, pruned or crashed runs resume",
                    record.run_id,
                    other.as_str()
                ));
                return vec![];
            }
        }
        if !cx.shared.data_ready() {
            cx.shared.warn("the data set is not ready yet");
            return vec![];
        }
        let Some(config) = record.config.clone() else {
            cx.shared
                .warn(format!("run {} has no start event", record.run_id));
            return vec![];
        };
        vec![Effect::Start {
            preset: record.preset.clone(),
            config: Box::new(config),
            base: None,
            from: From::Resume(record.dir.clone()),
        }]
    }

    /// A key while the filter is being typed: it filters as it is typed; Enter keeps it, Esc
    /// clears it.
    pub fn on_filter_key(
        &mut self,
        action: Option<crate::dashboard::keymap::Action>,
        key: KeyEvent,
        cx: &mut Ctx,
    ) -> Vec<Effect> {
        if let Some((prompt, mut field)) = self.prompt.take() {
            match action {
                Some(Action::Accept) => return self.answer(prompt, field.input.value(), cx),
                Some(Action::Cancel) => {}
                _ => {
                    field.type_key(key);
                    self.prompt = Some((prompt, field));
                    *cx.mode = Mode::Filtering;
                }
            }
            return vec![];
        }
        let Some(mut field) = self.filter_field.take() else {
            return vec![];
        };
        match action {
            Some(Action::Accept) => {}
            Some(Action::Cancel) => self.set_filter("", &cx.shared.listing),
            _ => {
                field.type_key(key);
                self.set_filter(field.input.value(), &cx.shared.listing);
                self.filter_field = Some(field);
                *cx.mode = Mode::Filtering;
            }
        }
        vec![]
    }
}

impl RunsScreen {
    /// A prompt's answer: sorts by the field, or labels the run under the cursor.
    fn answer(&mut self, prompt: Prompt, text: &str, cx: &mut Ctx) -> Vec<Effect> {
        if prompt == Prompt::SortBy {
            if text.trim().is_empty() {
                self.key = None;
                self.sort_by(Column::Run, &cx.shared.listing);
            } else if let Err(e) = self.sort_by_field(text, &cx.shared.listing) {
                cx.shared.warn(e);
            }
            return vec![];
        }
        let Some(r) = self.current(&cx.shared.listing) else {
            return vec![];
        };
        let edit = match prompt {
            Prompt::Name => LabelEdit::Name(text.to_string()),
            Prompt::Note => LabelEdit::Note(text.to_string()),
            _ => LabelEdit::tags_from_words(text),
        };
        vec![Effect::Label {
            dir: r.dir.clone(),
            edit,
        }]
    }

    /// Forgets a first `D` once another key comes.
    pub fn forget_delete(&mut self, action: Option<Action>) {
        if action != Some(Action::DeleteRun) {
            self.pending_delete = None;
        }
    }
}

/// Exports the marked runs, or `current` when none is marked.
pub fn export_marked(current: Option<String>, cx: &mut Ctx) -> Vec<Effect> {
    let mut ids = cx.shared.marked.clone();
    if ids.is_empty() {
        ids.extend(current);
    }
    let dirs: Vec<_> = ids
        .iter()
        .filter_map(|id| cx.shared.listing.get(id).map(|r| r.dir.clone()))
        .collect();
    if dirs.is_empty() {
        cx.shared.warn("nothing to export: mark runs with space");
        return vec![];
    }
    cx.shared
        .notify(format!("exporting {} run(s)...", dirs.len()));
    vec![Effect::Export(dirs)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn record(
        id: &str,
        started: f64,
        best: Option<f64>,
        status: ListedStatus,
        lr: &str,
    ) -> RunRecord {
        RunRecord {
            preset: if id.contains("conv") {
                "convnet"
            } else {
                "mlp-default"
            }
            .into(),
            status,
            step: started as usize,
            final_test_acc: best,
            best_test_acc: best,
            seconds: started,
            started,
            changed: BTreeMap::from([("lr".to_string(), serde_json::json!(lr))]),
            dir: id.into(),
            ..RunRecord::empty(id)
        }
    }

    fn listing() -> Listing {
        Listing {
            records: vec![
                record(
                    "a-mlp",
                    3.0,
                    Some(0.40),
                    ListedStatus::Ended(RunStatus::Completed),
                    "0.001",
                ),
                record("b-conv", 2.0, Some(0.70), ListedStatus::Running, "0.0001"),
                record("c-mlp", 1.0, None, ListedStatus::Crashed, "0.01"),
            ],
            scanned: true,
            error: None,
        }
    }

    fn ids(s: &RunsScreen, l: &Listing) -> Vec<String> {
        s.visible(l).iter().map(|r| r.run_id.clone()).collect()
    }

    #[test]
    fn runs_sort_by_any_column_both_ways() {
        let l = listing();
        let mut s = RunsScreen::default();
        s.refresh(&l);
        assert_eq!(ids(&s, &l), ["a-mlp", "b-conv", "c-mlp"], "newest first");
        s.sort_by(Column::Best, &l);
        assert_eq!(
            ids(&s, &l),
            ["b-conv", "a-mlp", "c-mlp"],
            "best first, none last"
        );
        s.sort_by(Column::Best, &l);
        assert_eq!(ids(&s, &l), ["c-mlp", "a-mlp", "b-conv"]);
        s.sort_by(Column::Status, &l);
        assert_eq!(
            ids(&s, &l),
            ["a-mlp", "c-mlp", "b-conv"],
            "completed, crashed, running"
        );
        s.sort_by(Column::Preset, &l);
        assert_eq!(ids(&s, &l)[0], "b-conv");
    }

    #[test]
    fn the_filter_matches_any_column_and_keeps_the_cursor_inside() {
        let l = listing();
        let mut s = RunsScreen::default();
        s.refresh(&l);
        s.move_by(2, &l);
        s.set_filter("MLP", &l);
        assert_eq!(ids(&s, &l), ["a-mlp", "c-mlp"]);
        s.set_filter("crashed", &l);
        assert_eq!(ids(&s, &l), ["c-mlp"]);
        s.set_filter("lr=0.0001", &l);
        assert_eq!(ids(&s, &l), ["b-conv"]);
        assert_eq!(s.cursor, 0);
        s.set_filter("nothing like it", &l);
        assert!(s.current(&l).is_none());
        s.move_by(1, &l);
        assert_eq!(s.cursor, 0);
    }

    /// Words filter by any setting or figure, tags and archived runs; `o` sorts by any field
    /// and an unknown one is refused with the fields it takes.
    #[test]
    fn runs_filter_and_sort_by_any_setting_figure_or_label() {
        let mut l = listing();
        l.records[0].labels.tags.insert("keep".into());
        l.records[2].labels.archived = true;
        let mut s = RunsScreen::default();
        s.refresh(&l);
        assert_eq!(ids(&s, &l), ["a-mlp", "b-conv"], "archived runs are hidden");
        s.set_filter("is:archived", &l);
        assert_eq!(ids(&s, &l), ["c-mlp"]);
        s.set_filter("lr<0.001", &l);
        assert_eq!(ids(&s, &l), ["b-conv"], "0.0001 < 0.001 as numbers");
        s.set_filter("lr>=1e-3 best>0.3", &l);
        assert_eq!(ids(&s, &l), ["a-mlp"]);
        s.set_filter("tag:keep", &l);
        assert_eq!(ids(&s, &l), ["a-mlp"]);
        s.set_filter("nosuch>1", &l);
        assert!(s
            .filter_error()
            .unwrap()
            .contains("unknown field \"nosuch\""));
        s.set_filter("", &l);
        s.sort_by_field("-lr", &l).unwrap();
        assert_eq!(ids(&s, &l), ["a-mlp", "b-conv"], "largest lr first");
        assert_eq!(s.key.as_deref(), Some("lr"));
        s.sort_by_field("lr", &l).unwrap();
        assert_eq!(ids(&s, &l), ["b-conv", "a-mlp"]);
        assert!(s
            .sort_by_field("nosuch", &l)
            .unwrap_err()
            .contains("fields:"));
    }

    #[test]
    fn a_new_scan_keeps_the_cursor_on_its_run() {
        let mut l = listing();
        let mut s = RunsScreen::default();
        s.refresh(&l);
        s.move_by(1, &l);
        assert_eq!(s.current(&l).unwrap().run_id, "b-conv");
        l.records
            .insert(0, record("d-new", 4.0, None, ListedStatus::Running, "0.1"));
        s.refresh(&l);
        assert_eq!(s.current(&l).unwrap().run_id, "b-conv");
    }
}
