//! `gradboard runs`: every run in a runs folder, newest first, with its status (`running`
//! while its process lives, `crashed` after, else its `done` status) and what it reached; then
//! the groups of runs that differ only by seed (n, mean ± std). `--groups` lists only groups.
//! `--sort` and `--filter` take any figure or setting; `name`, `tag`, `note`, `archive`,
//! `unarchive` and `delete` label or remove runs.

use anyhow::Result;
use gradboard::runs::groups::{group_runs, RunGroup};
use gradboard::runs::query::{self, Filter};
use gradboard::runs::{
    accuracy_text as acc, edit_labels, list_runs, trash_run, LabelEdit, RunRecord,
};
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `gradboard runs`.
#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    /// Folder of run folders.
    #[arg(long, default_value = "runs", global = true)]
    pub runs_dir: PathBuf,
    /// Sort by a figure (best, final, step, seconds), what a run is (status, preset, net,
    /// sweep, parent, name, tags) or any setting (lr, optimizer, ...); -FIELD sorts largest
    /// first.
    #[arg(long, value_name = "[-]FIELD", allow_hyphen_values = true)]
    pub sort: Option<String>,
    /// Only runs for which every word holds: lr>0.01, optimizer=adam, best>=0.5, tag:NAME,
    /// is:archived, or text found in the run's id, name, preset, tags or settings.
    #[arg(long, value_name = "WORDS")]
    pub filter: Option<String>,
    /// Archived runs too.
    #[arg(long)]
    pub all: bool,
    /// Name, tag, annotate, archive or delete runs.
    #[command(subcommand)]
    pub action: Option<RunsAction>,
    /// One JSON object a line (DESIGN.md's fields) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// One row a group of runs that differ only by seed: n, mean and standard deviation of
    /// their best and final test accuracy.
    #[arg(long)]
    pub groups: bool,
    /// Other programs' runs: every folder under DIR with TensorBoard event files or a
    /// metrics.jsonl (and gradboard's run folders), their settings and scalars.
    #[arg(long, value_name = "DIR", conflicts_with = "groups")]
    pub logdir: Option<PathBuf>,
}

/// What `gradboard runs` does to runs (a run: its id, a unique start of it, or its name).
#[derive(Debug, clap::Subcommand)]
pub enum RunsAction {
    /// Name a run (an empty name removes it). A run is named by its id, a part of its id
    /// that no other run's holds (4fc2), or its name.
    Name {
        /// The run.
        run: String,
        /// Its name.
        name: String,
    },
    /// Add tags to a run; -TAG removes one.
    Tag {
        /// The run.
        run: String,
        /// Tags (-TAG removes).
        #[arg(required = true, allow_hyphen_values = true)]
        tags: Vec<String>,
    },
    /// Note something about a run (an empty note removes it).
    Note {
        /// The run.
        run: String,
        /// The note.
        text: String,
    },
    /// Hide runs from listings (`--all` or the filter is:archived shows them).
    Archive {
        /// The runs.
        #[arg(required = true)]
        runs: Vec<String>,
    },
    /// Bring archived runs back.
    Unarchive {
        /// The runs.
        #[arg(required = true)]
        runs: Vec<String>,
    },
    /// Delete runs: each folder moves to the runs folder's .trash (a run still training, or
    /// one of a sweep, is refused).
    Delete {
        /// The runs.
        #[arg(required = true)]
        runs: Vec<String>,
    },
}

/// The run `word` names in `runs`: its id, its name, or a part of one id only (`4fc2`).
fn find_run<'a>(runs: &'a [RunRecord], word: &str) -> Result<&'a RunRecord> {
    if let Some(r) = runs.iter().find(|r| r.run_id == word) {
        return Ok(r);
    }
    let named: Vec<&RunRecord> = runs
        .iter()
        .filter(|r| r.labels.name.as_deref() == Some(word))
        .collect();
    let started: Vec<&RunRecord> = runs.iter().filter(|r| r.run_id.contains(word)).collect();
    match (named.as_slice(), started.as_slice()) {
        ([r], _) | ([], [r]) => Ok(r),
        ([], []) => anyhow::bail!("no run {word:?} (give its id, a part of it, or its name)"),
        (many, _) if many.len() > 1 => anyhow::bail!(
            "{} runs are named {word:?}: give an id ({})",
            many.len(),
            many.iter()
                .map(|r| r.run_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (_, many) => anyhow::bail!(
            "{} run ids hold {word:?}: give more of the id ({})",
            many.len(),
            many.iter()
                .take(5)
                .map(|r| r.run_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Carries out a `runs` action, a line a run.
fn act(action: &RunsAction, runs: &[RunRecord]) -> Result<ExitCode> {
    let label = |word: &str, edit: LabelEdit| -> Result<()> {
        let r = find_run(runs, word)?;
        let labels = edit_labels(&r.dir, &edit)?;
        let what = match edit {
            LabelEdit::Name(_) => format!("name {:?}", labels.name.unwrap_or_default()),
            LabelEdit::Tags { .. } => format!("tags: {}", labels.tags_text()),
            LabelEdit::Note(_) => format!("note {:?}", labels.note.unwrap_or_default()),
            LabelEdit::Archived(a) => (if a { "archived" } else { "unarchived" }).to_string(),
        };
        println!("{}: {what}", r.run_id);
        Ok(())
    };
    match action {
        RunsAction::Name { run, name } => label(run, LabelEdit::Name(name.clone()))?,
        RunsAction::Note { run, text } => label(run, LabelEdit::Note(text.clone()))?,
        RunsAction::Tag { run, tags } => label(run, LabelEdit::tags_from_list(tags))?,
        RunsAction::Archive { runs: words } | RunsAction::Unarchive { runs: words } => {
            let archive = matches!(action, RunsAction::Archive { .. });
            for word in words {
                label(word, LabelEdit::Archived(archive))?;
            }
        }
        RunsAction::Delete { runs: words } => {
            // Every name is found before anything moves.
            let found: Vec<&RunRecord> = words
                .iter()
                .map(|w| find_run(runs, w))
                .collect::<Result<_>>()?;
            for r in found {
                let to = trash_run(&r.dir)?;
                println!("{}: deleted (moved to {})", r.run_id, to.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `runs --logdir DIR`: a row a run (its id, source, settings and each tag's last value), or
/// with `--json` an object a line (id, path, source, settings, scalars: {tag: {count, last,
/// step, min, max}}).
fn log_runs(dir: &std::path::Path, json: bool) -> Result<ExitCode> {
    let runs = gradboard::logs::scan(dir)?;
    if runs.is_empty() {
        anyhow::bail!(
            "{}: no runs (a run is a folder with events.out.tfevents.* files or a metrics.jsonl)",
            dir.display()
        );
    }
    for run in &runs {
        if json {
            println!("{}", run.json());
            continue;
        }
        let settings: Vec<String> = run
            .settings
            .iter()
            .map(|(k, v)| format!("{k}={}", gradboard::config::json_text(v)))
            .collect();
        let tags: Vec<String> = run
            .summaries()
            .iter()
            .map(|(tag, s)| match s.last {
                Some(v) => format!("{tag}={v:.4}@{}", s.step),
                None => format!("{tag}=nan@{}", s.step),
            })
            .collect();
        let skipped = match run.skipped {
            0 => String::new(),
            n => format!("  ({n} corrupt records or lines skipped)"),
        };
        println!(
            "{:32} {:11} {}  {}{skipped}",
            run.id,
            format!("{:?}", run.source).to_lowercase(),
            tags.join(" "),
            settings.join(" ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The groups as rows: the first run (and how many more), n, best and final mean ± std.
fn group_table(groups: &[&RunGroup], runs: &[RunRecord]) -> String {
    let leading = query::varying_keys(&runs.iter().collect::<Vec<_>>());
    let mut out = format!(
        "{:32}  {:>3}  {:>17}  {:>17}  {:12}  changed\n",
        "group (first run)", "n", "best test ± std", "final test ± std", "seeds"
    );
    for g in groups {
        let first = runs.iter().find(|r| r.run_id == g.runs[0]);
        let name = match g.runs.len() {
            1 => g.runs[0].clone(),
            k => format!("{} +{}", g.runs[0], k - 1),
        };
        let seeds: Vec<String> = g.seeds.iter().map(|s| s.to_string()).collect();
        out.push_str(&format!(
            "{name:32}  {:>3}  {:>17}  {:>17}  {:12}  {}\n",
            g.n,
            g.best_text(),
            g.final_text(),
            seeds.join(","),
            first
                .map(|r| query::changed_words(r, &leading, true))
                .unwrap_or_default()
        ));
    }
    out
}

/// A run's name, tags and note after its settings: `  "baseline" #lr-study (note: ...)`.
fn labels_text(r: &RunRecord) -> String {
    let l = &r.labels;
    let mut out = String::new();
    if let Some(n) = &l.name {
        out.push_str(&format!("  {n:?}"));
    }
    for t in &l.tags {
        out.push_str(&format!(" #{t}"));
    }
    if let Some(n) = &l.note {
        out.push_str(&format!("  (note: {n})"));
    }
    if l.archived {
        out.push_str("  [archived]");
    }
    out
}

/// How many runs the filter or archiving left out, in words (empty for none).
fn hidden_text(hidden: usize) -> String {
    match hidden {
        0 => String::new(),
        n => format!(" ({n} more left out by the filter or archived: --all shows archived runs)"),
    }
}

/// The highest accuracy level a run reached and when: `0.8 in 412 s`, or `-`.
fn time_to_text(time_to: &std::collections::BTreeMap<String, f64>) -> String {
    time_to
        .iter()
        .max_by(|a, b| {
            let level = |k: &str| k.parse::<f64>().unwrap_or(0.0);
            level(a.0).total_cmp(&level(b.0))
        })
        .map_or("-".to_string(), |(level, s)| format!("{level} in {s:.0} s"))
}

/// Lists the runs.
pub fn run(args: RunsArgs) -> Result<ExitCode> {
    if let Some(dir) = &args.logdir {
        return log_runs(dir, args.json);
    }
    let all = list_runs(&args.runs_dir)?;
    if let Some(action) = &args.action {
        return act(action, &all);
    }
    let filter = Filter::parse(args.filter.as_deref().unwrap_or(""))?;
    let mut runs: Vec<&RunRecord> = all
        .iter()
        .filter(|r| args.all || filter.wants_archived() || !r.labels.archived)
        .filter(|r| filter.is_empty() || filter.matches(r, &query::row_text(r)))
        .collect();
    let key = match args.sort.as_deref().map(str::trim) {
        Some(text) => {
            let (name, descending) = match text.strip_prefix('-') {
                Some(n) => (n, true),
                None => (text, false),
            };
            query::check_field(name)?;
            query::sort_by_field(&mut runs, name, descending);
            Some(name.to_string())
        }
        None => None,
    };
    let hidden = all.len() - runs.len();
    let runs: Vec<RunRecord> = runs.into_iter().cloned().collect();
    let groups = group_runs(&runs);
    if args.groups {
        if args.json {
            for g in &groups {
                let line = serde_json::json!({
                    "runs": g.runs, "seeds": g.seeds, "n": g.n,
                    "best_mean": g.best_mean, "best_std": g.best_std,
                    "final_mean": g.final_mean, "final_std": g.final_std,
                });
                println!("{line}");
            }
        } else if groups.is_empty() {
            println!(
                "no runs in {}{}",
                args.runs_dir.display(),
                hidden_text(hidden)
            );
        } else {
            print!("{}", group_table(&groups.iter().collect::<Vec<_>>(), &runs));
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.json {
        for r in &runs {
            println!("{}", serde_json::to_string(r)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        println!(
            "no runs in {}{}",
            args.runs_dir.display(),
            hidden_text(hidden)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let id_w = runs
        .iter()
        .map(|r| r.run_id.len())
        .max()
        .unwrap_or(6)
        .max(6);
    // The sort field gets a column of its own unless the table has it.
    let key = key.filter(|k| !["best", "final", "step", "seconds", "status"].contains(&k.as_str()));
    let key_w = key.as_ref().map_or(0, |k| k.len().max(8));
    let key_head = key
        .as_ref()
        .map_or(String::new(), |k| format!("{k:>key_w$}  "));
    println!(
        "{:id_w$}  {:9}  {:>7}  {:>10}  {:>10}  {:>8}  {:14}  {key_head}changed",
        "run", "status", "step", "final test", "best test", "seconds", "time to"
    );
    // The settings that tell the runs listed apart lead each row's changed settings.
    let leading = query::varying_keys(&runs.iter().collect::<Vec<_>>());
    for r in &runs {
        let key_cell = key.as_ref().map_or(String::new(), |k| {
            let v = query::value(r, k).map_or("-".into(), |v| v.text());
            format!("{v:>key_w$}  ")
        });
        println!(
            "{:id_w$}  {:9}  {:>7}  {:>10}  {:>10}  {:>8.1}  {:14}  {key_cell}{}{}",
            r.run_id,
            r.status.as_str(),
            r.step,
            acc(r.final_test_acc),
            acc(r.best_test_acc),
            r.seconds,
            time_to_text(&r.time_to),
            query::changed_words(r, &leading, false),
            labels_text(r)
        );
    }
    if hidden > 0 {
        println!(
            "{}",
            hidden_text(hidden)
                .trim_start_matches([' ', '('])
                .trim_end_matches(')')
        );
    }
    let seeded: Vec<&RunGroup> = groups.iter().filter(|g| g.runs.len() > 1).collect();
    if !seeded.is_empty() {
        println!("\nruns that differ only by seed:");
        print!("{}", group_table(&seeded, &runs));
    }
    Ok(ExitCode::SUCCESS)
}
