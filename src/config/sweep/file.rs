//! The sweep file (TOML), read and written:
//!
//! ```toml
//! description = "..."
//! preset = "mlp-default"
//! sampler = "tpe"         # grid | random | tpe (default: grid, or random with [random])
//! trials = 24             # random draws or TPE trials
//! seeds = 3               # each configuration with seeds seed, seed+1, seed+2
//! prune = "asha"          # none | median | asha
//! prune_reduction = 3     # asha: a rung keeps 1/3 (prune_min_steps: its first rung)
//! seed = 0                # of the sampler's draws
//! objective_at = "final"  # best | final | last-K: which evaluations make a run's figure
//! [set]                   # every run
//! steps = 600
//! [grid]
//! lr = [1e-3, 2e-3]
//! hidden = ["800,400", "200,100"]
//! [range]
//! lr = "1e-4..1e-1:log"
//! [choice]
//! optimizer = ["sgd", "adam"]
//! [random]                # the older form of random draws: a count and ranges
//! count = 8
//! dropout = "0..0.5"
//! [[runs]]
//! name = "two layers of 512"
//! set = { hidden = "512,512" }
//! expected = 0.534
//! ```
//!
//! A sweep of another program names its command instead of a preset; its keys are the
//! command's own:
//!
//! ```toml
//! command = ["python", "train.py", "--lr", "{lr}", "--bs", "{batch_size}"]
//! objective = "val_acc"   # the metric the command reports
//! direction = "max"       # max | min
//! kill_after = 10         # seconds between SIGTERM and SIGKILL
//! ```

use super::{
    CommandSpec, ExplicitRun, PrunerKind, PrunerOptions, Range, SamplerKind, SweepSpec,
    DEFAULT_KILL_AFTER,
};
use crate::config::{key, toml_value_text as value_text, Choice};
use crate::{Error, Result};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    #[serde(default)]
    description: String,
    preset: Option<String>,
    command: Option<Vec<String>>,
    objective: Option<String>,
    objective_at: Option<String>,
    direction: Option<String>,
    kill_after: Option<f64>,
    workdir: Option<std::path::PathBuf>,
    #[serde(default)]
    seed: u64,
    sampler: Option<String>,
    trials: Option<usize>,
    seeds: Option<usize>,
    prune: Option<String>,
    prune_warmup: Option<usize>,
    prune_min_runs: Option<usize>,
    prune_reduction: Option<usize>,
    prune_min_steps: Option<usize>,
    #[serde(default)]
    set: toml::Table,
    grid: Option<toml::Table>,
    range: Option<toml::Table>,
    choice: Option<toml::Table>,
    random: Option<RandomTable>,
    #[serde(default)]
    runs: Vec<RunEntry>,
}

/// `[random]`: the count and each key's range.
#[derive(Debug, Deserialize)]
struct RandomTable {
    count: usize,
    #[serde(flatten)]
    ranges: toml::Table,
}

/// One `[[runs]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunEntry {
    name: Option<String>,
    preset: Option<String>,
    #[serde(default)]
    set: toml::Table,
    expected: Option<f64>,
}

/// Values of a table entry: an array, or one value.
fn values_of(value: &toml::Value) -> Option<Vec<String>> {
    match value {
        toml::Value::Array(items) => items.iter().map(value_text).collect(),
        other => value_text(other).map(|v| vec![v]),
    }
}

/// Parses a sweep file's text; an unknown entry is an error that names it.
pub(super) fn parse(text: &str, name: &str, origin: &str) -> Result<SweepSpec> {
    let bad = |why: String| Error::Config(format!("{origin}: {why}"));
    let file: SweepFile = toml::from_str(text).map_err(|e| {
        // The line and its text, so the user sees which entry is wrong.
        let at = e.span().map(|span| {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let source = text.lines().nth(line - 1).unwrap_or("").trim();
            format!("line {line} (`{source}`): ")
        });
        bad(format!("{}{}", at.unwrap_or_default(), e.message()))
    })?;
    let mut spec = match (&file.preset, file.command) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "preset and command: a sweep trains gradboard's runs or runs a command, not both"
                    .into(),
            ))
        }
        (Some(preset), None) => {
            if file.objective.is_some()
                || file.direction.is_some()
                || file.kill_after.is_some()
                || file.workdir.is_some()
            {
                return Err(bad(
                    "objective, direction, kill_after and workdir are for a command sweep (command = [...])"
                        .into(),
                ));
            }
            SweepSpec::new(name, preset)
        }
        (None, Some(argv)) => {
            let command = CommandSpec::new(
                argv,
                file.objective.as_deref().unwrap_or(""),
                super::minimizes(file.direction.as_deref()).map_err(|e| bad(e.to_string()))?,
                file.kill_after.unwrap_or(DEFAULT_KILL_AFTER),
            )
            .map_err(|e| bad(e.to_string()))?;
            let command = CommandSpec {
                workdir: file.workdir,
                ..command
            };
            let mut spec = SweepSpec::of_command(command);
            spec.name = name.to_string();
            spec
        }
        (None, None) => {
            return Err(bad(
                "give preset = \"NAME\" (gradboard's runs) or command = [...] (your program)"
                    .into(),
            ))
        }
    };
    spec.description = file.description;
    spec.seed = file.seed;
    if let Some(at) = &file.objective_at {
        spec.objective_at = super::ObjectiveAt::parse(at).map_err(|e| bad(e.to_string()))?;
    }
    spec.set = match spec.free() {
        true => free_overrides(&file.set),
        false => overrides(&file.set),
    }
    .map_err(|e| bad(format!("set: {e}")))?;
    if file.grid.as_ref().is_some_and(|g| g.is_empty()) {
        return Err(bad("grid: an empty table; give key = [values]".into()));
    }
    for (key_name, values) in file.grid.iter().flatten() {
        let values =
            values_of(values).ok_or_else(|| bad(format!("grid {key_name}: unsupported value")))?;
        spec.add_grid_values(key_name, values)
            .map_err(|e| bad(e.to_string()))?;
    }
    let range_text = |key_name: &str, value: &toml::Value| -> Result<Range> {
        let text = value.as_str().ok_or_else(|| {
            bad(format!(
                "range {key_name}: give \"lo..hi\" or \"lo..hi:log\""
            ))
        })?;
        Range::read(&format!("{key_name}={text}")).map_err(|e| bad(e.to_string()))
    };
    for (key_name, value) in file.range.iter().flatten() {
        let range = range_text(key_name, value)?;
        spec.add_range(range).map_err(|e| bad(e.to_string()))?;
    }
    for (key_name, values) in file.choice.iter().flatten() {
        let values = values_of(values)
            .ok_or_else(|| bad(format!("choice {key_name}: unsupported value")))?;
        spec.add_choice_values(key_name, values)
            .map_err(|e| bad(e.to_string()))?;
    }
    let mut count = file.trials;
    if let Some(random) = file.random {
        if random.count == 0 {
            return Err(bad("random count: a whole number >= 1".into()));
        }
        if random.ranges.is_empty() {
            return Err(bad("random: count without any range".into()));
        }
        for (key_name, value) in &random.ranges {
            let range = range_text(key_name, value)?;
            spec.add_range(range).map_err(|e| bad(e.to_string()))?;
        }
        if count.is_some_and(|c| c != random.count) {
            return Err(bad("trials and [random] count disagree; give one".into()));
        }
        count = Some(random.count);
    }
    spec.trials = count.unwrap_or(0);
    spec.sampler = match &file.sampler {
        Some(s) => SamplerKind::parse("sampler", s).map_err(|e| bad(e.to_string()))?,
        None if spec.trials > 0 => SamplerKind::Random,
        None => SamplerKind::Grid,
    };
    if spec.sampler == SamplerKind::Grid && spec.trials > 0 {
        return Err(bad(
            "trials: a grid trains every combination; give sampler = \"random\" or \"tpe\"".into(),
        ));
    }
    spec.seeds = file.seeds.unwrap_or(1);
    for (i, run) in file.runs.into_iter().enumerate() {
        spec.runs.push(ExplicitRun {
            name: run.name.unwrap_or_else(|| format!("run {i}")),
            preset: run.preset,
            set: overrides(&run.set).map_err(|e| bad(format!("runs {i}: {e}")))?,
            expected: run.expected,
        });
    }
    let kind = match &file.prune {
        Some(name) => PrunerKind::parse("prune", name).map_err(|e| bad(e.to_string()))?,
        None => PrunerKind::None,
    };
    let options = PrunerOptions {
        warmup: file.prune_warmup,
        min_runs: file.prune_min_runs,
        reduction: file.prune_reduction,
        min_steps: file.prune_min_steps,
    };
    spec.prune = kind.spec(options).map_err(|e| bad(e.to_string()))?;
    spec.check().map_err(|e| bad(e.to_string()))?;
    Ok(spec)
}

/// The spec as TOML, in the sweep file's format.
pub(super) fn write(spec: &SweepSpec) -> String {
    let mut t = toml::Table::new();
    t.insert("description".into(), spec.description.clone().into());
    match &spec.command {
        Some(c) => {
            let argv: Vec<toml::Value> = c.argv.iter().map(|w| w.as_str().into()).collect();
            t.insert("command".into(), argv.into());
            t.insert("objective".into(), c.objective.clone().into());
            t.insert(
                "direction".into(),
                if c.minimize { "min" } else { "max" }.into(),
            );
            t.insert("kill_after".into(), c.kill_after.into());
            if let Some(w) = &c.workdir {
                t.insert("workdir".into(), w.display().to_string().into());
            }
        }
        None => {
            t.insert("preset".into(), spec.preset.clone().into());
        }
    }
    t.insert("seed".into(), (spec.seed as i64).into());
    if spec.objective_at != super::ObjectiveAt::Best {
        t.insert("objective_at".into(), spec.objective_at.name().into());
    }
    t.insert("sampler".into(), spec.sampler.name().into());
    if spec.trials > 0 {
        t.insert("trials".into(), (spec.trials as i64).into());
    }
    if spec.seeds > 1 {
        t.insert("seeds".into(), (spec.seeds as i64).into());
    }
    if let Some(p) = spec.prune {
        t.insert("prune".into(), p.kind().name().into());
        let o = p.options();
        for (name, v) in [
            ("prune_warmup", o.warmup),
            ("prune_min_runs", o.min_runs),
            ("prune_reduction", o.reduction),
            ("prune_min_steps", o.min_steps),
        ] {
            if let Some(v) = v {
                t.insert(name.into(), (v as i64).into());
            }
        }
    }
    let pairs = |list: &[String]| -> toml::Table {
        list.iter()
            .filter_map(|s| s.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), toml::Value::from(v.trim())))
            .collect()
    };
    let lists = |list: &[(String, Vec<String>)]| -> toml::Table {
        list.iter()
            .map(|(k, vs)| {
                let values: Vec<toml::Value> =
                    vs.iter().map(|v| toml::Value::from(v.as_str())).collect();
                (k.clone(), toml::Value::from(values))
            })
            .collect()
    };
    if !spec.set.is_empty() {
        t.insert("set".into(), pairs(&spec.set).into());
    }
    if !spec.grid.is_empty() {
        t.insert("grid".into(), lists(&spec.grid).into());
    }
    if !spec.ranges.is_empty() {
        let ranges: toml::Table = spec
            .ranges
            .iter()
            .map(|r| (r.key.clone(), toml::Value::from(r.text())))
            .collect();
        t.insert("range".into(), ranges.into());
    }
    if !spec.choices.is_empty() {
        t.insert("choice".into(), lists(&spec.choices).into());
    }
    if !spec.runs.is_empty() {
        let runs: Vec<toml::Value> = spec
            .runs
            .iter()
            .map(|r| {
                let mut run = toml::Table::new();
                run.insert("name".into(), r.name.clone().into());
                if let Some(p) = &r.preset {
                    run.insert("preset".into(), p.clone().into());
                }
                run.insert("set".into(), pairs(&r.set).into());
                if let Some(e) = r.expected {
                    run.insert("expected".into(), e.into());
                }
                toml::Value::from(run)
            })
            .collect();
        t.insert("runs".into(), runs.into());
    }
    toml::to_string(&t).unwrap_or_default()
}

/// A command sweep's `[set]`: its own keys with their values, as text.
fn free_overrides(table: &toml::Table) -> Result<Vec<String>> {
    table
        .iter()
        .map(|(k, v)| {
            let text = value_text(v)
                .ok_or_else(|| Error::Config(format!("{k}: unsupported value {v}")))?;
            Ok(format!("{k}={text}"))
        })
        .collect()
}

/// A table of `key = value` as `key=value` overrides, each key checked.
fn overrides(table: &toml::Table) -> Result<Vec<String>> {
    table
        .iter()
        .map(|(k, v)| {
            let spec = key(k)?;
            let text = value_text(v)
                .ok_or_else(|| Error::Config(format!("{k}: unsupported value {v}")))?;
            spec.set(&mut crate::config::RunConfig::default(), &text)?;
            Ok(format!("{k}={text}"))
        })
        .collect()
}
