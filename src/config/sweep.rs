//! Sweep specs: a preset, common overrides, a grid (every combination), random draws inside
//! ranges, and explicit runs, expanded into the list of runs a sweep trains. A spec comes
//! from the command line or from a TOML file (`presets/sweeps/NAME.toml`).

use super::{key, toml_value_text as value_text, Choice, KeyKind, PresetDirs, RunConfig};
use crate::{Error, Result};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The most runs one sweep trains: a plan past it is refused before anything is allocated.
pub const MAX_RUNS: usize = 10_000;

super::choice::choice_enum! {
    /// Which pruner judges a sweep's runs.
    PrunerKind {
        /// No pruning: every run trains to its end.
        None = "none",
        /// Optuna's median rule: stop a run whose best so far is below the median of the
        /// completed runs at the same step.
        Median = "median",
    }
}

impl PrunerKind {
    /// The pruner's settings, with its options where given (else their defaults).
    pub fn spec(self, warmup: Option<usize>, min_runs: Option<usize>) -> Option<PrunerSpec> {
        match self {
            PrunerKind::None => None,
            PrunerKind::Median => {
                let d = PrunerSpec::default();
                Some(PrunerSpec {
                    warmup_evals: warmup.unwrap_or(d.warmup_evals),
                    min_runs: min_runs.unwrap_or(d.min_runs).max(1),
                })
            }
        }
    }
}

/// A sweep file as written (`presets/sweeps/NAME.toml`):
///
/// ```toml
/// description = "..."
/// preset = "mlp-default"
/// prune = "median"        # optional; prune_warmup and prune_min_runs tune it
/// seed = 0                # of the random draws
/// [set]                   # every run
/// steps = 300
/// [grid]
/// lr = [1e-3, 2e-3]
/// hidden = ["800,400", "200,100"]
/// [random]
/// count = 8
/// lr = "1e-4..1e-2:log"
/// [[runs]]
/// name = "two layers of 512"
/// set = { hidden = "512,512" }
/// expected = 0.534
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    #[serde(default)]
    description: String,
    preset: String,
    #[serde(default)]
    seed: u64,
    prune: Option<String>,
    prune_warmup: Option<usize>,
    prune_min_runs: Option<usize>,
    #[serde(default)]
    set: toml::Table,
    grid: Option<toml::Table>,
    random: Option<RandomTable>,
    #[serde(default)]
    runs: Vec<RunEntry>,
}

/// `[random]`: the count and each key's range.
#[derive(Debug, Deserialize)]
struct RandomTable {
    count: usize,
    #[serde(flatten)]
    ranges: BTreeMap<String, String>,
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

/// A sweep as the command line's flags and the dashboard's form give it: a sweep file, or a
/// preset with grid keys, ranges and a count of draws; settings for every run, the pruner and
/// a seed. `assemble` turns it into a checked spec the same way for both.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SweepRequest {
    /// A sweep file, or the name of a shipped one.
    pub file: Option<String>,
    /// The preset every run starts from (without a file).
    pub preset: Option<String>,
    /// Grid keys and values: `key=v1,v2` (list keys: `key=a,b;c,d`).
    pub grid: Vec<String>,
    /// Ranges for random draws: `key=lo..hi[:log]`.
    pub ranges: Vec<String>,
    /// How many random draws.
    pub random: usize,
    /// Overrides for every run, `key=value`.
    pub set: Vec<String>,
    /// The pruner's name (`none`, `median`); the file's, else none, when not given.
    pub prune: Option<String>,
    /// The pruner's warm-up evaluations.
    pub prune_warmup: Option<usize>,
    /// Earlier runs the pruner needs at a step.
    pub prune_min_runs: Option<usize>,
    /// Seed of the random draws.
    pub seed: Option<u64>,
}

impl SweepRequest {
    /// The spec, checked: every run's settings are built (`expand`) and the count bounded.
    pub fn assemble(&self, presets: &PresetDirs) -> Result<SweepSpec> {
        let mut spec = match &self.file {
            Some(name) => find_sweep(presets, name)?,
            None => {
                let preset = self
                    .preset
                    .as_deref()
                    .ok_or_else(|| Error::Config("sweep: give a sweep file or a preset".into()))?;
                let mut spec = SweepSpec::new(preset, preset);
                for g in &self.grid {
                    spec.add_grid(g)?;
                }
                for r in &self.ranges {
                    spec.ranges.push(Range::parse(r)?);
                }
                spec.random = self.random;
                match (spec.random > 0, spec.ranges.is_empty()) {
                    (true, true) => {
                        return Err(Error::Config(
                            "sweep: random draws need at least one range (key=lo..hi)".into(),
                        ))
                    }
                    (false, false) => {
                        return Err(Error::Config(
                            "sweep: ranges need a count of random draws".into(),
                        ))
                    }
                    _ => {}
                }
                if spec.grid.is_empty() && spec.random == 0 {
                    return Err(Error::Config(
                        "sweep: nothing to sweep; give grid keys (key=v1,v2) or ranges and a count of random draws".into(),
                    ));
                }
                spec
            }
        };
        spec.set.extend(self.set.iter().cloned());
        let kind = match &self.prune {
            Some(name) => PrunerKind::parse("prune", name)?,
            None if spec.prune.is_some() => PrunerKind::Median,
            None => PrunerKind::None,
        };
        let (warmup, min_runs) = (
            self.prune_warmup.or(spec.prune.map(|p| p.warmup_evals)),
            self.prune_min_runs.or(spec.prune.map(|p| p.min_runs)),
        );
        spec.prune = kind.spec(warmup, min_runs);
        if let Some(seed) = self.seed {
            spec.seed = seed;
        }
        spec.expand(presets)?;
        Ok(spec)
    }
}

/// A key's range for random draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    /// The key.
    pub key: String,
    /// Lowest value.
    pub lo: f64,
    /// Highest value.
    pub hi: f64,
    /// Log-uniform instead of uniform.
    pub log: bool,
}

impl Range {
    /// Parses `key=lo..hi` or `key=lo..hi:log`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::Config(format!(
                "--range {text:?}: {why}; expected key=lo..hi or key=lo..hi:log, e.g. lr=1e-4..1e-2:log"
            ))
        };
        let (name, rest) = text.split_once('=').ok_or_else(|| bad("no ="))?;
        let (span, log) = match rest.strip_suffix(":log") {
            Some(span) => (span, true),
            None => (rest, false),
        };
        let (lo, hi) = span.split_once("..").ok_or_else(|| bad("no .."))?;
        let number = |t: &str| t.trim().parse::<f64>().map_err(|_| bad("not a number"));
        let range = Range {
            key: name.trim().to_string(),
            lo: number(lo)?,
            hi: number(hi)?,
            log,
        };
        range.check()?;
        Ok(range)
    }

    fn check(&self) -> Result<()> {
        let spec = key(&self.key)?;
        if !matches!(
            spec.kind(),
            KeyKind::Float(_)
                | KeyKind::OptionalFloat(..)
                | KeyKind::Integer(..)
                | KeyKind::OptionalInteger(..)
        ) {
            return Err(Error::Config(format!(
                "range {}: a range needs a numeric key; list the values of a choice with a grid",
                self.key
            )));
        }
        if !(self.lo.is_finite() && self.hi.is_finite()) || self.lo > self.hi {
            return Err(Error::Config(format!(
                "range {}: {}..{} is empty",
                self.key, self.lo, self.hi
            )));
        }
        if self.log && self.lo <= 0.0 {
            return Err(Error::Config(format!(
                "range {}: a log range needs lo > 0",
                self.key
            )));
        }
        // Both ends must be values the key accepts.
        let mut probe = RunConfig::default();
        for end in [self.lo, self.hi] {
            spec.set(&mut probe, &self.text_of(end))?;
        }
        Ok(())
    }

    /// Draws a value (uniform, or uniform in log space), as the key's text.
    pub fn draw(&self, rng: &mut SmallRng) -> String {
        let u: f64 = rng.random_range(0.0..=1.0);
        let v = if self.log {
            (self.lo.ln() + u * (self.hi.ln() - self.lo.ln())).exp()
        } else {
            self.lo + u * (self.hi - self.lo)
        };
        self.text_of(v.clamp(self.lo, self.hi))
    }

    fn integer(&self) -> bool {
        key(&self.key).is_ok_and(|s| {
            matches!(
                s.kind(),
                KeyKind::Integer(..) | KeyKind::OptionalInteger(..)
            )
        })
    }

    fn text_of(&self, v: f64) -> String {
        if self.integer() {
            format!("{}", v.round() as u64)
        } else {
            format!("{}", significant(v))
        }
    }
}

/// `v` rounded to 4 significant digits (drawn values stay readable in tables).
fn significant(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let digits = 3 - v.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits);
    (v * scale).round() / scale
}

/// One run listed explicitly in a sweep file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplicitRun {
    /// What the run is, for the results table.
    pub name: String,
    /// Its preset when not the sweep's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// Its overrides, `key=value`.
    #[serde(default)]
    pub set: Vec<String>,
    /// A figure to show beside its result (e.g. the report's test accuracy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<f64>,
}

/// The pruner of a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrunerSpec {
    /// Evaluations of a run that are never judged (Optuna's `n_warmup_steps`, in evaluations).
    pub warmup_evals: usize,
    /// Earlier runs with a figure at the step needed before a run is judged (Optuna's
    /// `n_startup_trials`).
    pub min_runs: usize,
}

impl Default for PrunerSpec {
    fn default() -> Self {
        PrunerSpec {
            warmup_evals: 1,
            min_runs: 2,
        }
    }
}

/// A whole sweep: what it trains and how it prunes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSpec {
    /// The sweep's name (the file's stem, or `sweep`).
    pub name: String,
    /// One line saying what it explores.
    #[serde(default)]
    pub description: String,
    /// The preset every run starts from.
    pub preset: String,
    /// Overrides for every run, `key=value`.
    #[serde(default)]
    pub set: Vec<String>,
    /// Grid keys and their values (text; list keys' values hold commas).
    #[serde(default)]
    pub grid: Vec<(String, Vec<String>)>,
    /// Random draws: how many.
    #[serde(default)]
    pub random: usize,
    /// Random draws: the ranges.
    #[serde(default)]
    pub ranges: Vec<Range>,
    /// Explicit runs.
    #[serde(default)]
    pub runs: Vec<ExplicitRun>,
    /// The median pruner, when on.
    #[serde(default)]
    pub prune: Option<PrunerSpec>,
    /// Seed of the random draws.
    #[serde(default)]
    pub seed: u64,
}

/// One run a sweep will train.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRun {
    /// Its place in the sweep, from 0.
    pub index: usize,
    /// Its name in tables: the explicit run's name, else its swept values.
    pub label: String,
    /// Its preset.
    pub preset: String,
    /// The keys this run sets beyond the sweep's common overrides, as (key, text value).
    pub swept: Vec<(String, String)>,
    /// Its whole configuration.
    pub config: RunConfig,
    /// The preset's own configuration (to record what differs).
    pub base: RunConfig,
    /// A figure to show beside its result.
    pub expected: Option<f64>,
}

impl SweepSpec {
    /// A spec with nothing swept yet.
    pub fn new(name: &str, preset: &str) -> Self {
        SweepSpec {
            name: name.to_string(),
            description: String::new(),
            preset: preset.to_string(),
            set: Vec::new(),
            grid: Vec::new(),
            random: 0,
            ranges: Vec::new(),
            runs: Vec::new(),
            prune: None,
            seed: 0,
        }
    }

    /// Adds `key=v1,v2,...` to the grid; a list key (`hidden`) takes `;` between its
    /// alternatives (`hidden=800,400;200,100`).
    pub fn add_grid(&mut self, text: &str) -> Result<()> {
        let (name, values) = text.split_once('=').ok_or_else(|| {
            Error::Config(format!(
                "--grid {text:?}: expected key=v1,v2,... (list keys: key=a,b;c,d)"
            ))
        })?;
        let name = name.trim();
        let spec = key(name)?;
        let sep = if spec.kind() == KeyKind::IntegerList {
            ';'
        } else {
            ','
        };
        let values: Vec<String> = values.split(sep).map(|v| v.trim().to_string()).collect();
        self.add_grid_values(name, values)
    }

    /// Adds a grid key with its values, each checked.
    pub fn add_grid_values(&mut self, name: &str, values: Vec<String>) -> Result<()> {
        let spec = key(name)?;
        if values.is_empty() || values.iter().any(|v| v.is_empty()) {
            return Err(Error::Config(format!("grid {name}: an empty value")));
        }
        let mut probe = RunConfig::default();
        for v in &values {
            spec.set(&mut probe, v)
                .map_err(|e| Error::Config(format!("grid {e}")))?;
        }
        if self.grid.iter().any(|(k, _)| k == name) {
            return Err(Error::Config(format!("grid {name}: given twice")));
        }
        self.grid.push((name.to_string(), values));
        Ok(())
    }

    /// Reads a sweep file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Preset(format!("sweep {}: {e}", path.display())))?;
        let origin = path.display().to_string();
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("sweep");
        Self::from_toml(&text, name, &origin)
    }

    /// Parses a sweep file's text (`SweepFile`'s format); an unknown entry is an error that
    /// names it.
    pub fn from_toml(text: &str, name: &str, origin: &str) -> Result<Self> {
        let bad = |why: String| Error::Config(format!("{origin}: {why}"));
        let file: SweepFile = toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
        let mut spec = SweepSpec::new(name, &file.preset);
        spec.description = file.description;
        spec.seed = file.seed;
        spec.set = overrides(&file.set).map_err(|e| bad(format!("set: {e}")))?;
        if file.grid.as_ref().is_some_and(|g| g.is_empty()) {
            return Err(bad("grid: an empty table; give key = [values]".into()));
        }
        for (key_name, values) in file.grid.iter().flatten() {
            let values = match values {
                toml::Value::Array(items) => items.iter().map(value_text).collect(),
                other => value_text(other).map(|v| vec![v]),
            }
            .ok_or_else(|| bad(format!("grid {key_name}: unsupported value")))?;
            spec.add_grid_values(key_name, values)
                .map_err(|e| bad(e.to_string()))?;
        }
        if let Some(random) = file.random {
            if random.count == 0 {
                return Err(bad("random count: a whole number >= 1".into()));
            }
            spec.random = random.count;
            for (key_name, text) in &random.ranges {
                spec.ranges.push(
                    Range::parse(&format!("{key_name}={text}")).map_err(|e| bad(e.to_string()))?,
                );
            }
            if spec.ranges.is_empty() {
                return Err(bad("random: count without any range".into()));
            }
        }
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
        spec.prune = kind.spec(file.prune_warmup, file.prune_min_runs);
        Ok(spec)
    }

    /// How many runs the sweep trains, worked out before any is planned; an error when that
    /// is more than `MAX_RUNS` (or too large to count).
    pub fn run_count(&self) -> Result<usize> {
        let too_many = |n: String| {
            Error::Config(format!(
                "sweep {}: {n} runs; a sweep trains at most {MAX_RUNS} (narrow the grid or lower the count)",
                self.name
            ))
        };
        let mut combos: usize = 1;
        for (_, values) in &self.grid {
            combos = combos
                .checked_mul(values.len())
                .ok_or_else(|| too_many("more than 2^64".into()))?;
        }
        let swept = if self.grid.is_empty() && self.random == 0 {
            usize::from(self.runs.is_empty())
        } else {
            combos
                .checked_mul(self.random.max(1))
                .ok_or_else(|| too_many("more than 2^64".into()))?
        };
        let total = swept
            .checked_add(self.runs.len())
            .ok_or_else(|| too_many("more than 2^64".into()))?;
        if total > MAX_RUNS {
            return Err(too_many(total.to_string()));
        }
        Ok(total)
    }

    /// The runs, in order: explicit runs first, then every grid combination (for each random
    /// draw when there are draws). Every configuration is built and checked here; the count
    /// is checked (`run_count`) before anything is planned.
    pub fn expand(&self, presets: &PresetDirs) -> Result<Vec<PlannedRun>> {
        let count = self.run_count()?;
        let mut planned = Vec::with_capacity(count);
        let mut push = |label: String,
                        preset_name: &str,
                        swept: Vec<(String, String)>,
                        extra: &[String],
                        expected: Option<f64>|
         -> Result<()> {
            let preset = presets.find(preset_name)?;
            let mut config = preset.config.clone();
            for s in self.set.iter().chain(extra) {
                config.apply_override(s)?;
            }
            for (k, v) in &swept {
                config.set(k, v)?;
            }
            config
                .validate()
                .map_err(|e| Error::Config(format!("sweep run {label:?}: {e}")))?;
            planned.push(PlannedRun {
                index: planned.len(),
                label,
                preset: preset.name.clone(),
                swept,
                config,
                base: preset.config,
                expected,
            });
            Ok(())
        };
        for run in &self.runs {
            let preset = run.preset.as_deref().unwrap_or(&self.preset);
            push(run.name.clone(), preset, Vec::new(), &run.set, run.expected)?;
        }
        let combos = grid_combinations(&self.grid);
        let draws = self.draws();
        let has_grid_or_random = !self.grid.is_empty() || !draws.is_empty();
        if has_grid_or_random || self.runs.is_empty() {
            let draws = if draws.is_empty() {
                vec![Vec::new()]
            } else {
                draws
            };
            for draw in &draws {
                for combo in &combos {
                    let swept: Vec<(String, String)> =
                        combo.iter().chain(draw.iter()).cloned().collect();
                    let label = if swept.is_empty() {
                        self.preset.clone()
                    } else {
                        swept
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    };
                    push(label, &self.preset, swept, &[], None)?;
                }
            }
        }
        Ok(planned)
    }

    /// The random draws: `random` lists of (key, value), seeded by `seed`.
    pub fn draws(&self) -> Vec<Vec<(String, String)>> {
        let mut rng = SmallRng::seed_from_u64(self.seed);
        (0..self.random)
            .map(|_| {
                self.ranges
                    .iter()
                    .map(|r| (r.key.clone(), r.draw(&mut rng)))
                    .collect()
            })
            .collect()
    }

    /// The keys the sweep varies (grid and ranges), in order.
    pub fn swept_keys(&self) -> Vec<String> {
        self.grid
            .iter()
            .map(|(k, _)| k.clone())
            .chain(self.ranges.iter().map(|r| r.key.clone()))
            .collect()
    }

    /// The spec as TOML, in the sweep file's format (kept in the sweep's folder).
    pub fn to_toml(&self) -> String {
        let mut t = toml::Table::new();
        t.insert("description".into(), self.description.clone().into());
        t.insert("preset".into(), self.preset.clone().into());
        t.insert("seed".into(), (self.seed as i64).into());
        if let Some(p) = self.prune {
            t.insert("prune".into(), PrunerKind::Median.name().into());
            t.insert("prune_warmup".into(), (p.warmup_evals as i64).into());
            t.insert("prune_min_runs".into(), (p.min_runs as i64).into());
        }
        let pairs = |list: &[String]| -> toml::Table {
            list.iter()
                .filter_map(|s| s.split_once('='))
                .map(|(k, v)| (k.trim().to_string(), toml::Value::from(v.trim())))
                .collect()
        };
        if !self.set.is_empty() {
            t.insert("set".into(), pairs(&self.set).into());
        }
        if !self.grid.is_empty() {
            let grid: toml::Table = self
                .grid
                .iter()
                .map(|(k, vs)| {
                    let values: Vec<toml::Value> =
                        vs.iter().map(|v| toml::Value::from(v.as_str())).collect();
                    (k.clone(), toml::Value::from(values))
                })
                .collect();
            t.insert("grid".into(), grid.into());
        }
        if self.random > 0 {
            let mut random = toml::Table::new();
            random.insert("count".into(), (self.random as i64).into());
            for r in &self.ranges {
                let log = if r.log { ":log" } else { "" };
                random.insert(r.key.clone(), format!("{}..{}{log}", r.lo, r.hi).into());
            }
            t.insert("random".into(), random.into());
        }
        if !self.runs.is_empty() {
            let runs: Vec<toml::Value> = self
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
}

/// Every combination of the grid's values, first key slowest; one empty combination for an
/// empty grid.
pub fn grid_combinations(grid: &[(String, Vec<String>)]) -> Vec<Vec<(String, String)>> {
    let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (k, values) in grid {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((k.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    combos
}

/// A table of `key = value` as `key=value` overrides, each key checked.
fn overrides(table: &toml::Table) -> Result<Vec<String>> {
    table
        .iter()
        .map(|(k, v)| {
            key(k)?;
            let text = value_text(v)
                .ok_or_else(|| Error::Config(format!("{k}: unsupported value {v}")))?;
            Ok(format!("{k}={text}"))
        })
        .collect()
}

/// Where sweep files live: `sweeps/` inside each preset folder.
pub fn sweep_dirs(presets: &PresetDirs) -> Vec<PathBuf> {
    presets.dirs.iter().map(|d| d.join("sweeps")).collect()
}

/// Finds a sweep file by name (in the preset folders' `sweeps/`) or path.
pub fn find_sweep(presets: &PresetDirs, name_or_file: &str) -> Result<SweepSpec> {
    let as_path = Path::new(name_or_file);
    if name_or_file.ends_with(".toml") || as_path.components().count() > 1 {
        return SweepSpec::load(as_path);
    }
    for dir in sweep_dirs(presets) {
        let path = dir.join(format!("{name_or_file}.toml"));
        if path.is_file() {
            return SweepSpec::load(&path);
        }
    }
    let known: Vec<String> = sweep_dirs(presets)
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    Err(Error::Preset(format!(
        "unknown sweep {name_or_file:?}; sweeps: {}",
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )))
}
