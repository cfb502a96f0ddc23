//! Sweep specs: a preset, common overrides, and what to vary: a grid (every combination),
//! random draws or TPE trials over ranges and choices, or explicit runs; each configuration
//! trained with one or more seeds, judged by a pruner. A spec comes from the command line or
//! from a TOML file (`presets/sweeps/NAME.toml`); `plan` turns it into the runs it trains.

mod command;
mod file;
mod plan;
mod request;

pub use command::{is_key_name, minimizes, CommandSpec, DEFAULT_KILL_AFTER, SPECIAL_PLACES};

pub use plan::{
    Bases, Configuration, Objective, ObjectiveAt, PlannedRun, SweepPlan, SWEEP_VAL_SPLIT,
};
pub use request::SweepRequest;

use super::{key, Choice, KeyKind, PresetDirs, RunConfig};
use crate::search::asha::Asha;
use crate::search::median::Median;
use crate::search::{Domain, Param, Space};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// The most runs one sweep trains: a plan past it is refused before anything is allocated.
pub const MAX_RUNS: usize = 10_000;
/// The most seeds a configuration trains with.
pub const MAX_SEEDS: usize = 100;
/// The reduction factor of successive halving when none is given (Optuna's).
pub const DEFAULT_ETA: usize = 4;

super::choice::choice_enum! {
    /// How a sweep chooses the settings of its runs.
    SamplerKind {
        /// Every combination of the grid's values (and the explicit runs).
        Grid = "grid",
        /// Uniform draws inside the ranges and among the choices.
        Random = "random",
        /// The tree-structured Parzen estimator: random start-up trials, then settings
        /// near the best ones so far.
        Tpe = "tpe",
    }
}

super::choice::choice_enum! {
    /// Which pruner judges a sweep's runs.
    PrunerKind {
        /// No pruning: every run trains to its end.
        None = "none",
        /// Optuna's median rule: stop a run whose best so far is below the median of the
        /// completed runs at the same step.
        Median = "median",
        /// Asynchronous successive halving: at each rung only the top 1/eta go on.
        Asha = "asha",
    }
}

/// The pruner of a sweep and its options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PrunerSpec {
    /// The median rule.
    Median(Median),
    /// Successive halving; the first rung at `min_steps`, else at the runs' first evaluation.
    Asha {
        /// The reduction factor.
        eta: usize,
        /// Steps of the first rung.
        min_steps: Option<usize>,
    },
}

/// The pruner's options as given, each optional.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PrunerOptions {
    /// Median: evaluations never judged.
    pub warmup: Option<usize>,
    /// Median: finished runs needed at a step.
    pub min_runs: Option<usize>,
    /// Successive halving: the reduction factor.
    pub reduction: Option<usize>,
    /// Successive halving: steps of the first rung.
    pub min_steps: Option<usize>,
}

impl PrunerKind {
    /// The pruner with its options where given (else their defaults); an option of the other
    /// pruner is an error that names it.
    pub fn spec(self, o: PrunerOptions) -> Result<Option<PrunerSpec>> {
        let misplaced = |opt: &str, pruner: &str| {
            Err(Error::Config(format!(
                "{opt} is an option of --prune {pruner}, not of --prune {}",
                self.name()
            )))
        };
        let median_opts = o.warmup.is_some() || o.min_runs.is_some();
        let asha_opts = o.reduction.is_some() || o.min_steps.is_some();
        match self {
            PrunerKind::None if median_opts => misplaced("prune_warmup/prune_min_runs", "median"),
            PrunerKind::None if asha_opts => misplaced("prune_reduction/prune_min_steps", "asha"),
            PrunerKind::None => Ok(None),
            PrunerKind::Median if asha_opts => misplaced("prune_reduction/prune_min_steps", "asha"),
            PrunerKind::Median => {
                let d = Median::default();
                Ok(Some(PrunerSpec::Median(Median {
                    warmup_evals: o.warmup.unwrap_or(d.warmup_evals),
                    min_runs: o.min_runs.unwrap_or(d.min_runs).max(1),
                })))
            }
            PrunerKind::Asha if median_opts => misplaced("prune_warmup/prune_min_runs", "median"),
            PrunerKind::Asha => {
                let eta = o.reduction.unwrap_or(DEFAULT_ETA);
                if eta < 2 {
                    return Err(Error::Config(format!(
                        "prune reduction {eta}: a rung keeps 1/eta of the runs; give 2 or more"
                    )));
                }
                if o.min_steps == Some(0) {
                    return Err(Error::Config(
                        "prune min steps: the first rung needs 1 step or more".into(),
                    ));
                }
                Ok(Some(PrunerSpec::Asha {
                    eta,
                    min_steps: o.min_steps,
                }))
            }
        }
    }
}

impl PrunerSpec {
    /// Which pruner.
    pub fn kind(&self) -> PrunerKind {
        match self {
            PrunerSpec::Median(_) => PrunerKind::Median,
            PrunerSpec::Asha { .. } => PrunerKind::Asha,
        }
    }

    /// Its options as given.
    pub fn options(&self) -> PrunerOptions {
        match *self {
            PrunerSpec::Median(m) => PrunerOptions {
                warmup: Some(m.warmup_evals),
                min_runs: Some(m.min_runs),
                ..PrunerOptions::default()
            },
            PrunerSpec::Asha { eta, min_steps } => PrunerOptions {
                reduction: Some(eta),
                min_steps,
                ..PrunerOptions::default()
            },
        }
    }

    /// Successive halving's rungs for runs that evaluate first at `first_eval`.
    pub fn asha(&self, first_eval: usize) -> Option<Asha> {
        match *self {
            PrunerSpec::Asha { eta, min_steps } => Some(Asha {
                eta,
                min_steps: min_steps.unwrap_or(first_eval).max(1),
            }),
            PrunerSpec::Median(_) => None,
        }
    }

    /// In words, for headers: "median", "asha (eta 3, first rung at 100 steps)".
    pub fn describe(&self, first_eval: usize) -> String {
        match self.asha(first_eval) {
            Some(a) => format!("asha (eta {}, first rung at {} steps)", a.eta, a.min_steps),
            None => "median".to_string(),
        }
    }
}

/// A key's range for random draws and TPE.
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    /// The key.
    pub key: String,
    /// Lowest value.
    pub lo: f64,
    /// Highest value.
    pub hi: f64,
    /// Log-uniform instead of uniform.
    pub log: bool,
    /// Both ends written as whole numbers (`16..256`, not `0.0..1.0`): what makes a command's
    /// key draw integers.
    pub whole: bool,
    /// A command's key, not one of gradboard's settings.
    pub free: bool,
}

impl Range {
    /// Parses `key=lo..hi` or `key=lo..hi:log` for one of gradboard's keys, checked against
    /// the key.
    pub fn parse(text: &str) -> Result<Self> {
        Self::read(text)?.checked(false)
    }

    /// Parses `key=lo..hi` or `key=lo..hi:log` unchecked (`SweepSpec::add_range` checks it
    /// against the sweep's kind of keys).
    pub fn read(text: &str) -> Result<Self> {
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
        if span.contains("...") {
            return Err(bad("three dots"));
        }
        let (lo, hi) = span.split_once("..").ok_or_else(|| bad("no .."))?;
        let number = |t: &str| t.trim().parse::<f64>().map_err(|_| bad("not a number"));
        let whole_text = |t: &str| {
            t.trim()
                .trim_start_matches(['-', '+'])
                .chars()
                .all(|c| c.is_ascii_digit())
        };
        Ok(Range {
            key: name.trim().to_string(),
            lo: number(lo)?,
            hi: number(hi)?,
            log,
            whole: whole_text(lo) && whole_text(hi),
            free: false,
        })
    }

    /// The range checked: for one of gradboard's keys against the key; for a command's key
    /// (`free`), its name and ends only.
    pub fn checked(mut self, free: bool) -> Result<Self> {
        self.free = free;
        self.check()?;
        Ok(self)
    }

    fn check(&self) -> Result<()> {
        if self.free && !is_key_name(&self.key) {
            return Err(Error::Config(format!(
                "range {:?}: a key is a letter or _, then letters, digits, _, - or .",
                self.key
            )));
        }
        if self.key == crate::config::NET_KEY {
            return Err(Error::Config(
                "range net: nets are chosen, not drawn from a range; --grid net=a,b or --choice net=a,b"
                    .into(),
            ));
        }
        let net_var = crate::config::is_net_key(&self.key);
        let spec = if net_var || self.free {
            None
        } else {
            Some(key(&self.key)?)
        };
        if spec.is_some_and(|spec| {
            !matches!(
                spec.kind(),
                KeyKind::Float(_)
                    | KeyKind::OptionalFloat(..)
                    | KeyKind::Integer(..)
                    | KeyKind::OptionalInteger(..)
            )
        }) {
            return Err(Error::Config(format!(
                "range {}: a range needs a numeric key; list the values of a choice with --choice",
                self.key
            )));
        }
        if !(self.lo.is_finite() && self.hi.is_finite()) || self.lo > self.hi {
            return Err(Error::Config(format!(
                "range {}: {}..{} is empty",
                self.key, self.lo, self.hi
            )));
        }
        let (lo, hi) = match self.integer() {
            true => (self.lo.round(), self.hi.round()),
            false => (self.lo, self.hi),
        };
        if lo >= hi {
            return Err(Error::Config(format!(
                "range {}: {}..{} holds one value; fix it with --set {}={}",
                self.key, self.lo, self.hi, self.key, lo
            )));
        }
        if self.log && lo <= 0.0 {
            return Err(Error::Config(format!(
                "range {}: a log range needs lo > 0{}",
                self.key,
                if self.integer() {
                    " (1 or more for whole numbers)"
                } else {
                    ""
                }
            )));
        }
        // Both ends must be values the key accepts (a net variable's, the net checks when the
        // runs are planned).
        let Some(spec) = spec else {
            return Ok(());
        };
        let mut probe = RunConfig::default();
        for end in [self.lo, self.hi] {
            let text = if self.integer() {
                format!("{}", end.round() as i64)
            } else {
                format!("{end}")
            };
            spec.set(&mut probe, &text)?;
        }
        Ok(())
    }

    /// Whether the key takes whole numbers (a net variable: when both ends are whole).
    pub fn integer(&self) -> bool {
        if self.free {
            return self.whole;
        }
        if crate::config::is_net_key(&self.key) {
            return self.lo.fract() == 0.0 && self.hi.fract() == 0.0;
        }
        key(&self.key).is_ok_and(|s| {
            matches!(
                s.kind(),
                KeyKind::Integer(..) | KeyKind::OptionalInteger(..)
            )
        })
    }

    /// The range as an axis of a search space.
    pub fn param(&self) -> Param {
        Param {
            key: self.key.clone(),
            domain: Domain::Number {
                lo: self.lo,
                hi: self.hi,
                log: self.log,
                int: self.integer(),
            },
        }
    }

    /// As written: `lo..hi` or `lo..hi:log`.
    pub fn text(&self) -> String {
        // A command's real-valued range keeps its point (0.0..1.0), so it reads back real.
        let end = |x: f64| match self.free && !self.whole && x.fract() == 0.0 {
            true => format!("{x:?}"),
            false => format!("{x}"),
        };
        format!(
            "{}..{}{}",
            end(self.lo),
            end(self.hi),
            if self.log { ":log" } else { "" }
        )
    }
}

/// One run listed explicitly in a sweep file.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplicitRun {
    /// What the run is, for the results table.
    pub name: String,
    /// Its preset when not the sweep's.
    pub preset: Option<String>,
    /// Its overrides, `key=value`.
    pub set: Vec<String>,
    /// A figure to show beside its result (e.g. the report's test accuracy).
    pub expected: Option<f64>,
}

/// A whole sweep: what it trains, how it chooses, how it prunes.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    /// The sweep's name (the file's stem, or the preset's).
    pub name: String,
    /// One line saying what it explores.
    pub description: String,
    /// The preset every run starts from.
    pub preset: String,
    /// Overrides for every run, `key=value`.
    pub set: Vec<String>,
    /// Grid keys and their values (text; list keys' values hold commas).
    pub grid: Vec<(String, Vec<String>)>,
    /// How settings are chosen.
    pub sampler: SamplerKind,
    /// Random draws or TPE trials: how many configurations (0 for a grid).
    pub trials: usize,
    /// Numeric keys' ranges (random and TPE).
    pub ranges: Vec<Range>,
    /// Categorical keys' values (random and TPE).
    pub choices: Vec<(String, Vec<String>)>,
    /// Explicit runs.
    pub runs: Vec<ExplicitRun>,
    /// Seeds each configuration trains with (`seed`, `seed + 1`, ...).
    pub seeds: usize,
    /// The pruner, when on.
    pub prune: Option<PrunerSpec>,
    /// Seed of the sampler's draws.
    pub seed: u64,
    /// The command each trial runs, for a sweep of another program (its keys are the
    /// command's own); `None` for gradboard's runs.
    pub command: Option<CommandSpec>,
    /// Which evaluations make a run's figure of the objective.
    pub objective_at: ObjectiveAt,
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
            sampler: SamplerKind::Grid,
            trials: 0,
            ranges: Vec::new(),
            choices: Vec::new(),
            runs: Vec::new(),
            seeds: 1,
            prune: None,
            seed: 0,
            command: None,
            objective_at: ObjectiveAt::Best,
        }
    }

    /// A spec of a command sweep with nothing swept yet, named after its script.
    pub fn of_command(command: CommandSpec) -> Self {
        let mut spec = SweepSpec::new(&command.name(), "");
        spec.command = Some(command);
        spec
    }

    /// Whether its keys are a command's own rather than gradboard's settings.
    pub fn free(&self) -> bool {
        self.command.is_some()
    }

    /// Adds `key=v1,v2,...` to the grid; a list key (`hidden`) takes `;` between its
    /// alternatives (`hidden=800,400;200,100`).
    pub fn add_grid(&mut self, text: &str) -> Result<()> {
        let (name, values) = split_values("--grid", text, self.free())?;
        self.add_grid_values(&name, values)
    }

    /// Adds a grid key with its values, each checked.
    pub fn add_grid_values(&mut self, name: &str, values: Vec<String>) -> Result<()> {
        check_values("grid", name, &values, self.free())?;
        self.check_new_key("grid", name)?;
        self.grid.push((name.to_string(), values));
        Ok(())
    }

    /// Adds `key=a,b,c` to the choices (list keys: `;` between alternatives).
    pub fn add_choice(&mut self, text: &str) -> Result<()> {
        let (name, values) = split_values("--choice", text, self.free())?;
        self.add_choice_values(&name, values)
    }

    /// Adds a categorical key with its values, each checked.
    pub fn add_choice_values(&mut self, name: &str, values: Vec<String>) -> Result<()> {
        check_values("choice", name, &values, self.free())?;
        self.check_new_key("choice", name)?;
        self.choices.push((name.to_string(), values));
        Ok(())
    }

    /// Adds a range.
    pub fn add_range(&mut self, range: Range) -> Result<()> {
        let range = range.checked(self.free())?;
        self.check_new_key("range", &range.key)?;
        self.ranges.push(range);
        Ok(())
    }

    /// A key is swept once; `val_split` and `seed` are never swept (the first decides what
    /// the figure measures, the second is `--seeds`).
    fn check_new_key(&self, what: &str, name: &str) -> Result<()> {
        match name {
            "val_split" => {
                return Err(Error::Config(format!(
                    "{what} val_split: a sweep compares its runs on one validation split; set it with --set val_split=N"
                )))
            }
            "seed" => {
                return Err(Error::Config(format!(
                    "{what} seed: give --seeds K to train every configuration with K seeds"
                )))
            }
            _ => {}
        }
        if self.swept_keys().iter().any(|k| k == name) {
            return Err(Error::Config(format!(
                "{what} {name}: the key is swept twice"
            )));
        }
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

    /// Parses a sweep file's text; an unknown entry is an error that names it.
    pub fn from_toml(text: &str, name: &str, origin: &str) -> Result<Self> {
        file::parse(text, name, origin)
    }

    /// The spec as TOML, in the sweep file's format (kept in the sweep's folder).
    pub fn to_toml(&self) -> String {
        file::write(self)
    }

    /// Checks that what is swept fits the sampler.
    pub fn check(&self) -> Result<()> {
        let bad = |why: &str| Err(Error::Config(format!("sweep {}: {why}", self.name)));
        let searched = !self.ranges.is_empty() || !self.choices.is_empty();
        for set in &self.set {
            let name = set.split_once('=').map_or(set.as_str(), |(k, _)| k).trim();
            if self.swept_keys().iter().any(|k| k == name) {
                return bad(&format!(
                    "{name} is swept and set for every run ({set}); drop one"
                ));
            }
        }
        match self.sampler {
            SamplerKind::Grid => {
                if self.trials > 0 {
                    return bad(&format!(
                        "the grid sampler trains every combination; {} trials are for --random or --sampler tpe",
                        self.trials
                    ));
                }
                if searched {
                    return bad(
                        "ranges and choices need a sampler: --random N or --sampler tpe --trials N",
                    );
                }
                if self.grid.is_empty() && self.runs.is_empty() {
                    return bad("nothing to sweep; give grid keys (key=v1,v2), or ranges with --random N or --sampler tpe --trials N");
                }
            }
            SamplerKind::Random | SamplerKind::Tpe => {
                if !searched {
                    return bad(&format!(
                        "the {} sampler needs at least one --range or --choice",
                        self.sampler.name()
                    ));
                }
                if self.trials == 0 {
                    return bad(&format!(
                        "the {} sampler needs a number of trials (--trials N)",
                        self.sampler.name()
                    ));
                }
            }
        }
        if self.sampler == SamplerKind::Tpe {
            if !self.grid.is_empty() {
                return bad("tpe samples ranges and choices; give the grid's values as --choice");
            }
            if !self.runs.is_empty() {
                return bad("tpe chooses every run's settings; explicit runs need a grid sweep");
            }
        }
        if !(1..=MAX_SEEDS).contains(&self.seeds) {
            return bad(&format!("seeds {}: give 1 to {MAX_SEEDS}", self.seeds));
        }
        if let Some(command) = &self.command {
            if !self.runs.is_empty() {
                return bad("a command sweep takes its values from a grid, ranges or choices, not explicit runs");
            }
            let mut set_keys = Vec::new();
            for s in &self.set {
                let Some((k, v)) = s.split_once('=') else {
                    return bad(&format!("--set {s:?}: expected key=value"));
                };
                let k = k.trim();
                if !is_key_name(k) {
                    return bad(&format!("--set {s:?}: {k:?} is not a key"));
                }
                if k == "seed" && v.trim().parse::<u64>().is_err() {
                    return bad(&format!("--set {s}: the seed is a whole number >= 0"));
                }
                set_keys.push(k.to_string());
            }
            command.check_keys(&self.swept_keys(), &set_keys)?;
        }
        self.run_count().map(|_| ())
    }

    /// How many configurations the sweep tries (before seeds).
    pub fn configurations(&self) -> Result<usize> {
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
        let swept = match self.sampler {
            SamplerKind::Tpe => self.trials,
            SamplerKind::Random => combos
                .checked_mul(self.trials)
                .ok_or_else(|| too_many("more than 2^64".into()))?,
            SamplerKind::Grid if self.grid.is_empty() => 0,
            SamplerKind::Grid => combos,
        };
        swept
            .checked_add(self.runs.len())
            .ok_or_else(|| too_many("more than 2^64".into()))
    }

    /// How many runs the sweep trains (configurations times seeds), worked out before any is
    /// planned; an error when that is more than `MAX_RUNS` (or too large to count).
    pub fn run_count(&self) -> Result<usize> {
        let configurations = self.configurations()?;
        let total = configurations.checked_mul(self.seeds.max(1));
        match total {
            Some(t) if t <= MAX_RUNS => Ok(t),
            _ => Err(Error::Config(format!(
                "sweep {}: {} runs; a sweep trains at most {MAX_RUNS} (narrow the grid or lower the count)",
                self.name,
                total.map_or("more than 2^64".to_string(), |t| t.to_string())
            ))),
        }
    }

    /// The keys the sweep varies (grid, ranges, choices), in order.
    pub fn swept_keys(&self) -> Vec<String> {
        self.grid
            .iter()
            .map(|(k, _)| k.clone())
            .chain(self.ranges.iter().map(|r| r.key.clone()))
            .chain(self.choices.iter().map(|(k, _)| k.clone()))
            .collect()
    }

    /// The space the sampler draws from: the ranges, then the choices.
    pub fn space(&self) -> Space {
        Space {
            params: self
                .ranges
                .iter()
                .map(Range::param)
                .chain(self.choices.iter().map(|(k, values)| Param {
                    key: k.clone(),
                    domain: Domain::Choice(values.clone()),
                }))
                .collect(),
        }
    }

    /// Every swept key as an axis (grid keys as choices, in their order), for importance and
    /// parallel coordinates.
    pub fn axes(&self) -> Space {
        let mut axes = Space {
            params: self
                .grid
                .iter()
                .map(|(k, values)| Param {
                    key: k.clone(),
                    domain: Domain::Choice(values.clone()),
                })
                .collect(),
        };
        axes.params.extend(self.space().params);
        axes
    }

    /// Whether the sweep itself sets `name` (for every run, in its grid, ranges or choices, or
    /// in an explicit run).
    pub fn mentions(&self, name: &str) -> bool {
        let in_sets = |sets: &[String]| {
            sets.iter()
                .any(|s| s.split_once('=').is_some_and(|(k, _)| k.trim() == name))
        };
        in_sets(&self.set)
            || self.swept_keys().iter().any(|k| k == name)
            || self.runs.iter().any(|r| in_sets(&r.set))
    }
}

/// `key=v1,v2` split into the key and its values (`;` between a list key's values).
fn split_values(flag: &str, text: &str, free: bool) -> Result<(String, Vec<String>)> {
    let (name, values) = text.split_once('=').ok_or_else(|| {
        Error::Config(format!(
            "{flag} {text:?}: expected key=v1,v2,... (list keys: key=a,b;c,d)"
        ))
    })?;
    let name = name.trim();
    let sep =
        if !free && !crate::config::is_net_key(name) && key(name)?.kind() == KeyKind::IntegerList {
            ';'
        } else {
            ','
        };
    let values = values.split(sep).map(|v| v.trim().to_string()).collect();
    Ok((name.to_string(), values))
}

/// Each value must be one the key accepts.
fn check_values(what: &str, name: &str, values: &[String], free: bool) -> Result<()> {
    if values.is_empty() || values.iter().any(|v| v.is_empty()) {
        return Err(Error::Config(format!("{what} {name}: an empty value")));
    }
    if free {
        if !is_key_name(name) {
            return Err(Error::Config(format!(
                "{what} {name:?}: a key is a letter or _, then letters, digits, _, - or ."
            )));
        }
        if let Some(v) = values
            .iter()
            .enumerate()
            .find_map(|(i, v)| values[..i].contains(v).then_some(v))
        {
            return Err(Error::Config(format!(
                "{what} {name}: {v} is given twice; each value once"
            )));
        }
        return Ok(());
    }
    if crate::config::is_net_key(name) {
        return check_net_values(what, name, values);
    }
    let spec = key(name)?;
    let mut probe = RunConfig::default();
    let mut seen: Vec<String> = Vec::new();
    for v in values {
        spec.set(&mut probe, v)
            .map_err(|e| Error::Config(format!("{what} {e}")))?;
        let value = spec.get(&probe);
        if seen.contains(&value) {
            return Err(Error::Config(format!(
                "{what} {name}: {v} is given twice; each value once"
            )));
        }
        seen.push(value);
    }
    Ok(())
}

/// Values of `net` (nets, each read) or of a net variable (numbers), each given once; whether
/// a variable exists is checked against the net when the runs are planned.
fn check_net_values(what: &str, name: &str, values: &[String]) -> Result<()> {
    let mut seen: Vec<String> = Vec::new();
    for v in values {
        let canonical = if name == crate::config::NET_KEY {
            let dirs = crate::config::net::net_dirs(&PresetDirs::discover());
            crate::config::net::NetConfig::load(v, &dirs)
                .map_err(|e| Error::Config(format!("{what} {name}: {e}")))?;
            v.trim().to_string()
        } else {
            let x: f64 = v
                .trim()
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite())
                .ok_or_else(|| Error::Config(format!("{what} {name}: {v} is not a number")))?;
            crate::config::format_float(x)
        };
        if seen.contains(&canonical) {
            return Err(Error::Config(format!(
                "{what} {name}: {v} is given twice; each value once"
            )));
        }
        seen.push(canonical);
    }
    Ok(())
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
