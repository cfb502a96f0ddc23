//! What a trial reports, from wherever it writes it: `key=value` lines on its stdout, the
//! JSON-lines file `GRADBOARD_METRICS` names, and TensorBoard (or other `metrics.jsonl`) logs
//! under its run folder. Each point is handed on once, grouped by step.

use crate::logs::jsonl::Metrics;
use crate::logs::scan::{scan, Source};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Points not handed on before.
#[derive(Debug, Default, PartialEq)]
pub struct NewPoints {
    /// Finite values by step, then name.
    pub by_step: BTreeMap<usize, BTreeMap<String, f64>>,
    /// Non-finite values (a diverged run's NaN): (name, step).
    pub non_finite: Vec<(String, usize)>,
}

/// Reads a trial's metrics as they grow.
pub struct Collector {
    run_dir: PathBuf,
    metrics_file: PathBuf,
    /// Points of the files handed on, by (source, name).
    emitted: HashMap<(String, String), usize>,
    /// What stdout said so far.
    stdout: Metrics,
    /// Reports of each name on stdout (the step of a line that gives none).
    stdout_counts: HashMap<String, usize>,
}

/// Scalars by name, as a log reader gives them.
type Scalars = BTreeMap<String, Vec<crate::logs::tensorboard::Point>>;

impl Collector {
    /// A collector of the trial in `run_dir` that appends JSON lines to `metrics_file`.
    pub fn new(run_dir: &Path, metrics_file: &Path) -> Self {
        Collector {
            run_dir: run_dir.to_path_buf(),
            metrics_file: metrics_file.to_path_buf(),
            emitted: HashMap::new(),
            stdout: Metrics::default(),
            stdout_counts: HashMap::new(),
        }
    }

    /// Takes one stdout line: `key=value` words (separated by spaces, commas or semicolons)
    /// whose values are numbers; `step=N` gives their step, else `epoch=N` when whole, else
    /// the count of the name's reports. Other lines are only kept in the log.
    pub fn add_line(&mut self, line: &str) {
        let pairs: Vec<(&str, f64)> = line
            .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .filter_map(|word| {
                let (k, v) = word.split_once('=')?;
                let v: f64 = v.parse().ok()?;
                // TensorBoard-style names (`val/acc`) too.
                crate::config::sweep::is_key_name(&k.replace('/', "_")).then_some((k, v))
            })
            .collect();
        if pairs.is_empty() {
            return;
        }
        let whole = |name: &str| {
            pairs
                .iter()
                .find(|p| p.0 == name)
                .map(|p| p.1)
                .filter(|v| v.fract() == 0.0 && *v >= 0.0)
        };
        let given = whole("step").or_else(|| whole("epoch"));
        for (k, v) in pairs.iter().filter(|p| p.0 != "step") {
            let count = self.stdout_counts.entry(k.to_string()).or_default();
            *count += 1;
            let step = given.map_or(*count as i64, |s| s as i64);
            // JSON has no NaN: as text, which the metrics reader parses back.
            let value = match v.is_finite() {
                true => serde_json::json!(v),
                false => serde_json::json!(v.to_string()),
            };
            let mut one = serde_json::Map::new();
            one.insert("step".into(), serde_json::json!(step));
            one.insert(k.to_string(), value);
            self.stdout.add_value(0, serde_json::Value::Object(one));
        }
    }

    /// Everything reported since the last call; `files` reads the files too (stdout's lines
    /// are in already).
    pub fn poll(&mut self, files: bool) -> NewPoints {
        let mut out = NewPoints::default();
        // stdout's points are a buffer: handed on, then dropped (a chatty program has many).
        for (name, points) in self.stdout.scalars.iter_mut() {
            take(&mut out, name, points);
            points.clear();
        }
        if !files {
            return out;
        }
        let mut sources: Vec<(String, Scalars)> = Vec::new();
        let mut own = Metrics::default();
        if let Ok(bytes) = std::fs::read(&self.metrics_file) {
            own.add_text(&String::from_utf8_lossy(&bytes));
        }
        sources.push(("metrics".into(), own.scalars));
        for run in scan(&self.run_dir).unwrap_or_default() {
            let own_file =
                run.source == Source::Jsonl && run.path.join("metrics.jsonl") == self.metrics_file;
            if run.source != Source::Gradboard && !own_file {
                sources.push((run.id.clone(), run.scalars));
            }
        }
        for (source, scalars) in sources {
            for (name, points) in scalars {
                let done = self
                    .emitted
                    .entry((source.clone(), name.clone()))
                    .or_default();
                take(&mut out, &name, points.get(*done..).unwrap_or_default());
                *done = (*done).max(points.len());
            }
        }
        out
    }

    /// Marks what the files hold now as handed on (a resumed trial's history has it), and
    /// counts stdout's reports on from `counts` (each name's reports so far).
    pub fn resume_from(&mut self, counts: &BTreeMap<String, usize>) {
        let _ = self.poll(true);
        self.stdout_counts = counts.iter().map(|(k, v)| (k.clone(), *v)).collect();
    }
}

/// Adds `points` of `name` to `out`.
fn take(out: &mut NewPoints, name: &str, points: &[crate::logs::tensorboard::Point]) {
    for p in points {
        let step = p.step.max(0) as usize;
        match p.value.is_finite() {
            true => {
                out.by_step
                    .entry(step)
                    .or_default()
                    .insert(name.to_string(), p.value);
            }
            false => out.non_finite.push((name.to_string(), step)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdout_lines_give_their_step_or_count_and_other_lines_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Collector::new(dir.path(), &dir.path().join("metrics.jsonl"));
        c.add_line("Epoch 1/3: loading data...\n");
        c.add_line("step=10 loss=2.5, val_acc=0.25 val/top5=0.5\n");
        c.add_line("val_acc=0.5 lr=1e-3\n");
        c.add_line("epoch=7 val_acc=nan\n");
        let p = c.poll(false);
        assert_eq!(p.by_step[&10]["loss"], 2.5);
        assert_eq!(p.by_step[&10]["val_acc"], 0.25);
        assert_eq!(p.by_step[&10]["val/top5"], 0.5, "TensorBoard-style names");
        assert_eq!(
            p.by_step[&2]["val_acc"], 0.5,
            "the second report of val_acc"
        );
        assert_eq!(p.by_step[&1]["lr"], 1e-3);
        assert_eq!(p.by_step[&7]["epoch"], 7.0);
        assert_eq!(p.non_finite, vec![("val_acc".to_string(), 7)]);
        assert_eq!(c.poll(false), NewPoints::default(), "each point once");
    }

    #[test]
    fn the_metrics_file_and_tensorboard_logs_under_the_run_folder_are_read_as_they_grow() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("metrics.jsonl");
        std::fs::write(
            &file,
            "{\"step\":1,\"acc\":0.1}\ngarbage\n{\"step\":2,\"acc\":0.2",
        )
        .unwrap();
        let mut c = Collector::new(dir.path(), &file);
        let p = c.poll(true);
        assert_eq!(p.by_step.len(), 1, "a half-written last line waits");
        assert_eq!(p.by_step[&1]["acc"], 0.1);
        std::fs::write(
            &file,
            "{\"step\":1,\"acc\":0.1}\ngarbage\n{\"step\":2,\"acc\":0.2}\n",
        )
        .unwrap();
        let tb = dir.path().join("tb");
        std::fs::create_dir(&tb).unwrap();
        let mut bytes = Vec::new();
        for (step, v) in [(5, 0.5f32), (6, 0.6)] {
            bytes.extend(crate::logs::tfrecord::frame(
                &crate::logs::tensorboard::scalar_event(step, 0.0, &[("val/acc", v)]),
            ));
        }
        std::fs::write(tb.join("events.out.tfevents.1.host"), bytes).unwrap();
        let p = c.poll(true);
        assert_eq!(p.by_step[&2]["acc"], 0.2);
        assert_eq!(p.by_step[&5]["val/acc"], 0.5);
        assert_eq!(p.by_step[&6]["val/acc"] as f32, 0.6);
        assert!(c.poll(true).by_step.is_empty());
    }
}
