//! The Runs screen's model: every run of the runs folder as the last scan listed it, sorted by
//! a column, filtered by text, with a cursor and the runs marked for comparison.

use gradboard::runs::RunRecord;
use std::cmp::Ordering;

/// The table's columns, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// The run id (sorts by start time).
    Run,
    /// The preset.
    Preset,
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
}

impl Column {
    /// Every column, in display order.
    pub const ALL: [Column; 8] = [
        Column::Run,
        Column::Preset,
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
            Column::Changed => "changed",
            Column::Status => "status",
            Column::Steps => "steps",
            Column::Best => "best",
            Column::Final => "final",
            Column::Time => "time",
        }
    }
}

/// The `changed` column's text: `key=value` pairs.
pub fn changed_text(r: &RunRecord) -> String {
    r.changed
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn cmp_opt(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => Ordering::Equal,
    }
}

fn compare(column: Column, a: &RunRecord, b: &RunRecord) -> Ordering {
    match column {
        Column::Run => a
            .started
            .total_cmp(&b.started)
            .then(a.run_id.cmp(&b.run_id)),
        Column::Preset => a.preset.cmp(&b.preset),
        Column::Changed => changed_text(a).cmp(&changed_text(b)),
        Column::Status => a.status.as_str().cmp(b.status.as_str()),
        Column::Steps => a.step.cmp(&b.step),
        Column::Best => cmp_opt(a.best_test_acc, b.best_test_acc),
        Column::Final => cmp_opt(a.final_test_acc, b.final_test_acc),
        Column::Time => a.seconds.total_cmp(&b.seconds),
    }
}

/// Every run, its order, its filter, the cursor and the marks.
#[derive(Debug, Clone)]
pub struct Library {
    /// The runs as the last scan listed them.
    pub records: Vec<RunRecord>,
    /// The sort column and whether it is descending.
    pub sort: (Column, bool),
    /// Rows must contain this text (any column, case-insensitive).
    pub filter: String,
    /// Index of the cursor in the visible rows.
    pub cursor: usize,
    /// Runs marked for comparison, in marking order.
    pub marked: Vec<String>,
    /// Whether a scan has come in yet.
    pub scanned: bool,
}

impl Default for Library {
    fn default() -> Self {
        Library {
            records: Vec::new(),
            sort: (Column::Run, true),
            filter: String::new(),
            cursor: 0,
            marked: Vec::new(),
            scanned: false,
        }
    }
}

impl Library {
    /// Takes a new scan, keeping the cursor on the same run where it can.
    pub fn replace(&mut self, records: Vec<RunRecord>) {
        let at = self.current().map(|r| r.run_id.clone());
        self.records = records;
        self.scanned = true;
        if let Some(id) = at {
            if let Some(i) = self.visible().iter().position(|r| r.run_id == id) {
                self.cursor = i;
            }
        }
        self.clamp();
    }

    fn matches(&self, r: &RunRecord) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let needle = self.filter.to_lowercase();
        [
            r.run_id.as_str(),
            r.preset.as_str(),
            r.status.as_str(),
            &changed_text(r),
        ]
        .iter()
        .any(|field| field.to_lowercase().contains(&needle))
    }

    /// The rows shown: filtered, then sorted.
    pub fn visible(&self) -> Vec<&RunRecord> {
        let mut rows: Vec<&RunRecord> = self.records.iter().filter(|r| self.matches(r)).collect();
        let (column, descending) = self.sort;
        rows.sort_by(|a, b| {
            let o = compare(column, a, b);
            if descending {
                o.reverse()
            } else {
                o
            }
        });
        rows
    }

    /// The run under the cursor.
    pub fn current(&self) -> Option<&RunRecord> {
        self.visible().get(self.cursor).copied()
    }

    /// A run by id.
    pub fn get(&self, run_id: &str) -> Option<&RunRecord> {
        self.records.iter().find(|r| r.run_id == run_id)
    }

    fn clamp(&mut self) {
        let n = self.visible().len();
        self.cursor = self.cursor.min(n.saturating_sub(1));
    }

    /// Moves the cursor by `delta` rows.
    pub fn move_by(&mut self, delta: isize) {
        let n = self.visible().len() as isize;
        if n == 0 {
            return;
        }
        self.cursor = (self.cursor as isize + delta).clamp(0, n - 1) as usize;
    }

    /// Sorts by `column`; the same column again reverses the order.
    pub fn sort_by(&mut self, column: Column) {
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
        self.clamp();
    }

    /// Sets the filter text.
    pub fn set_filter(&mut self, text: &str) {
        self.filter = text.to_string();
        self.cursor = 0;
        self.clamp();
    }

    /// Marks or unmarks the run under the cursor for comparison.
    pub fn toggle_mark(&mut self) -> Option<bool> {
        let id = self.current()?.run_id.clone();
        if let Some(i) = self.marked.iter().position(|m| *m == id) {
            self.marked.remove(i);
            Some(false)
        } else {
            self.marked.push(id);
            Some(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradboard::events::RunStatus;
    use gradboard::runs::ListedStatus;
    use std::collections::BTreeMap;

    fn record(
        id: &str,
        started: f64,
        best: Option<f64>,
        status: ListedStatus,
        lr: &str,
    ) -> RunRecord {
        RunRecord {
            run_id: id.into(),
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
            parent: None,
            sweep: None,
            reason: None,
            config: None,
            dir: id.into(),
        }
    }

    fn library() -> Library {
        let mut l = Library::default();
        l.replace(vec![
            record(
                "a-mlp",
                3.0,
                Some(0.40),
                ListedStatus::Ended(RunStatus::Completed),
                "0.001",
            ),
            record("b-conv", 2.0, Some(0.70), ListedStatus::Running, "0.0001"),
            record("c-mlp", 1.0, None, ListedStatus::Crashed, "0.01"),
        ]);
        l
    }

    fn ids(l: &Library) -> Vec<&str> {
        l.visible().iter().map(|r| r.run_id.as_str()).collect()
    }

    #[test]
    fn runs_sort_by_any_column_both_ways() {
        let mut l = library();
        assert_eq!(ids(&l), ["a-mlp", "b-conv", "c-mlp"], "newest first");
        l.sort_by(Column::Best);
        assert_eq!(
            ids(&l),
            ["b-conv", "a-mlp", "c-mlp"],
            "best first, none last"
        );
        l.sort_by(Column::Best);
        assert_eq!(ids(&l), ["c-mlp", "a-mlp", "b-conv"]);
        l.sort_by(Column::Status);
        assert_eq!(
            ids(&l),
            ["a-mlp", "c-mlp", "b-conv"],
            "completed, crashed, running"
        );
        l.sort_by(Column::Preset);
        assert_eq!(ids(&l)[0], "b-conv");
    }

    #[test]
    fn the_filter_matches_any_column_and_keeps_the_cursor_inside() {
        let mut l = library();
        l.move_by(2);
        l.set_filter("MLP");
        assert_eq!(ids(&l), ["a-mlp", "c-mlp"]);
        l.set_filter("crashed");
        assert_eq!(ids(&l), ["c-mlp"]);
        l.set_filter("lr=0.0001");
        assert_eq!(ids(&l), ["b-conv"]);
        assert_eq!(l.cursor, 0);
        l.set_filter("nothing like it");
        assert!(l.current().is_none());
        l.move_by(1);
        assert_eq!(l.cursor, 0);
    }

    #[test]
    fn marks_toggle_and_a_new_scan_keeps_the_cursor_on_its_run() {
        let mut l = library();
        l.move_by(1);
        assert_eq!(l.toggle_mark(), Some(true));
        assert_eq!(l.marked, vec!["b-conv"]);
        let mut records = l.records.clone();
        records.insert(0, record("d-new", 4.0, None, ListedStatus::Running, "0.1"));
        l.replace(records);
        assert_eq!(l.current().unwrap().run_id, "b-conv");
        assert_eq!(l.toggle_mark(), Some(false));
        assert!(l.marked.is_empty());
    }
}
