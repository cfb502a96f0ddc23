//! The logs screen (`--logdir DIR`): other programs' runs (TensorBoard event files, JSON-lines
//! metrics, gradboard's own folders) as the watcher last read them, followed live. A cursor on
//! the runs, marks for the runs compared, and a cursor on their tags, grouped by prefix.

use super::Ctx;
use crate::dashboard::keymap::Action;
use crate::dashboard::msg::Effect;
use gradboard::logs::LogRun;
use std::path::PathBuf;

/// The logs screen's state.
#[derive(Debug, Clone, Default)]
pub struct LogsScreen {
    /// The folder followed, when the dashboard was opened with `--logdir`.
    pub dir: Option<PathBuf>,
    /// Its runs as last read, by id.
    pub runs: Vec<LogRun>,
    /// Why the last read failed, when it did.
    pub error: Option<String>,
    /// The run under the cursor.
    pub cursor: usize,
    /// The runs marked for comparison, by id, in marking order.
    pub marked: Vec<String>,
    /// The tag shown, by name (kept while the runs change).
    pub tag: Option<String>,
    /// The y axis on a log scale.
    pub log: bool,
    /// Runs that differ only by their seed folded into one curve.
    pub grouped: bool,
}

impl LogsScreen {
    /// The runs charted: the marked ones, else the one under the cursor.
    pub fn shown(&self) -> Vec<&LogRun> {
        if self.marked.is_empty() {
            return self.runs.get(self.cursor).into_iter().collect();
        }
        self.marked
            .iter()
            .filter_map(|id| self.runs.iter().find(|r| r.id == *id))
            .collect()
    }

    /// Every tag of the charted runs, grouped by prefix (`train/loss` under `train`), each
    /// once, groups and tags in name order.
    pub fn tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self
            .shown()
            .iter()
            .flat_map(|r| r.scalars.keys().cloned())
            .collect();
        tags.sort_by(|a, b| (prefix(a), a).cmp(&(prefix(b), b)));
        tags.dedup();
        tags
    }

    /// The tag charted: the chosen one while it exists, else the first.
    pub fn current_tag(&self) -> Option<String> {
        let tags = self.tags();
        match &self.tag {
            Some(t) if tags.contains(t) => Some(t.clone()),
            _ => tags.into_iter().next(),
        }
    }

    /// Takes a new read of the folder.
    pub fn read(&mut self, runs: Result<Vec<LogRun>, String>) {
        match runs {
            Ok(runs) => {
                self.runs = runs;
                self.error = None;
                self.cursor = self.cursor.min(self.runs.len().saturating_sub(1));
                let ids: Vec<&String> = self.runs.iter().map(|r| &r.id).collect();
                self.marked.retain(|m| ids.contains(&m));
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Handles a key's action.
    pub fn update(&mut self, action: Action, cx: &mut Ctx) -> Vec<Effect> {
        match action {
            Action::Up => self.cursor = self.cursor.saturating_sub(1),
            Action::Down => self.cursor = (self.cursor + 1).min(self.runs.len().saturating_sub(1)),
            Action::Mark => {
                let Some(id) = self.runs.get(self.cursor).map(|r| r.id.clone()) else {
                    return vec![];
                };
                match self.marked.iter().position(|m| *m == id) {
                    Some(i) => {
                        self.marked.remove(i);
                    }
                    None => self.marked.push(id),
                }
            }
            Action::Left | Action::Right => {
                let tags = self.tags();
                if tags.is_empty() {
                    cx.shared.warn("the runs shown have no scalars yet");
                    return vec![];
                }
                let at = self
                    .current_tag()
                    .and_then(|t| tags.iter().position(|x| *x == t))
                    .unwrap_or(0);
                let next = match action {
                    Action::Left => (at + tags.len() - 1) % tags.len(),
                    _ => (at + 1) % tags.len(),
                };
                self.tag = Some(tags[next].clone());
            }
            Action::ToggleLogScale => self.log = !self.log,
            Action::ToggleGroups => self.grouped = !self.grouped,
            _ => {}
        }
        vec![]
    }
}

/// The runs shown folded into groups of runs whose settings differ only by `seed` (runs with
/// no settings stay alone), in order of first appearance.
pub fn seed_groups<'a>(runs: &[&'a LogRun]) -> Vec<Vec<&'a LogRun>> {
    let key = |r: &LogRun| {
        let mut s = r.settings.clone();
        s.remove("seed");
        (!s.is_empty()).then(|| serde_json::Value::Object(s).to_string())
    };
    let mut groups: Vec<(Option<String>, Vec<&LogRun>)> = Vec::new();
    for &run in runs {
        let k = key(run);
        match groups.iter_mut().find(|g| k.is_some() && g.0 == k) {
            Some(g) => g.1.push(run),
            None => groups.push((k, vec![run])),
        }
    }
    groups.into_iter().map(|g| g.1).collect()
}

/// A tag's group: what comes before its last `/` (TensorBoard's grouping), else itself.
pub fn prefix(tag: &str) -> &str {
    tag.rsplit_once('/').map_or("", |(p, _)| p)
}
