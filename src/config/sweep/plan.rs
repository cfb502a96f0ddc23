//! A sweep's plan: the presets its runs start from, its configurations (fixed in advance for
//! a grid or random draws, chosen one at a time by TPE), and each run's whole settings:
//! configuration `g` with seed offset `s` is run `g * seeds + s`.

use super::{grid_combinations, PrunerSpec, SamplerKind, SweepSpec};
use crate::config::{Choice, PresetDirs, RunConfig};
use crate::search::Point;
use crate::{Error, Result};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Training images a sweep holds out for validation unless it (or its preset) says otherwise.
pub const SWEEP_VAL_SPLIT: usize = 5000;

/// The figure a sweep chooses by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Accuracy on the held-out training images.
    ValAcc,
    /// Accuracy on the test set (a sweep without a validation split: the lab's protocol).
    TestAcc,
    /// A metric a command sweep's program reports, by its name.
    Metric {
        /// The metric's name.
        name: String,
        /// Whether smaller is better.
        minimize: bool,
    },
}

impl Objective {
    /// Its name in JSON: `val_acc`, `test_acc`, or the metric's.
    pub fn name(&self) -> &str {
        match self {
            Objective::ValAcc => "val_acc",
            Objective::TestAcc => "test_acc",
            Objective::Metric { name, .. } => name,
        }
    }

    /// Its name in tables: `val acc`, `test acc`, or the metric's.
    pub fn label(&self) -> &str {
        match self {
            Objective::ValAcc => "val acc",
            Objective::TestAcc => "test acc",
            Objective::Metric { name, .. } => name,
        }
    }

    /// Whether smaller is better.
    pub fn minimize(&self) -> bool {
        matches!(self, Objective::Metric { minimize: true, .. })
    }

    /// A figure as the sweep ranks it, larger better (a minimised metric negated): what the
    /// samplers and pruners compare.
    pub fn score(&self, value: f64) -> f64 {
        if self.minimize() {
            -value
        } else {
            value
        }
    }

    /// "max" or "min".
    pub fn direction(&self) -> &'static str {
        if self.minimize() {
            "min"
        } else {
            "max"
        }
    }
}

/// Which of a run's evaluations make its figure of the objective: the peak (`best`, which
/// rewards a run that spiked and then collapsed), the last (`final`), or the mean of the
/// last k (`last-k`, steadier than either).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum ObjectiveAt {
    /// The best evaluation.
    #[default]
    Best,
    /// The last evaluation.
    Final,
    /// The mean of the last k evaluations.
    LastK(usize),
}

impl ObjectiveAt {
    /// Reads `best`, `final` or `last-K` (K >= 1).
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let bad = || {
            Error::Config(format!(
                "objective-at: '{text}' is not best, final or last-K (K a whole number >= 1, e.g. last-3)"
            ))
        };
        match text {
            "best" => Ok(ObjectiveAt::Best),
            "final" => Ok(ObjectiveAt::Final),
            _ => {
                let k = text.strip_prefix("last-").ok_or_else(bad)?;
                match k.parse::<usize>() {
                    Ok(k) if k >= 1 => Ok(ObjectiveAt::LastK(k)),
                    _ => Err(bad()),
                }
            }
        }
    }

    /// Its name as `parse` reads it.
    pub fn name(&self) -> String {
        match self {
            ObjectiveAt::Best => "best".into(),
            ObjectiveAt::Final => "final".into(),
            ObjectiveAt::LastK(k) => format!("last-{k}"),
        }
    }

    /// The figure a table heads with, for objective `label`: "best val acc", "final val
    /// acc", "val acc, mean of last 3".
    pub fn header(&self, label: &str) -> String {
        match self {
            ObjectiveAt::Best => format!("best {label}"),
            ObjectiveAt::Final => format!("final {label}"),
            ObjectiveAt::LastK(k) => format!("{label} (last {k})"),
        }
    }

    /// A run's figure from its evaluations' scores (larger better), in step order; `None`
    /// without a finite one.
    pub fn reduce(&self, scores: &[f64]) -> Option<f64> {
        let finite: Vec<f64> = scores.iter().copied().filter(|v| v.is_finite()).collect();
        match self {
            ObjectiveAt::Best => finite.iter().copied().reduce(f64::max),
            ObjectiveAt::Final => finite.last().copied(),
            ObjectiveAt::LastK(k) => {
                let tail = &finite[finite.len().saturating_sub(*k)..];
                (!tail.is_empty()).then(|| tail.iter().sum::<f64>() / tail.len() as f64)
            }
        }
    }
}

impl From<ObjectiveAt> for String {
    fn from(at: ObjectiveAt) -> String {
        at.name()
    }
}

impl TryFrom<String> for ObjectiveAt {
    type Error = Error;
    fn try_from(text: String) -> Result<Self> {
        ObjectiveAt::parse(&text)
    }
}

/// One configuration of a sweep: what its runs set beyond the sweep's common overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Configuration {
    /// Its place among the configurations, from 0.
    pub group: usize,
    /// Its name in tables: the explicit run's name, else its swept values.
    pub label: String,
    /// Its preset.
    pub preset: String,
    /// The swept keys' values, as (key, text value).
    pub swept: Vec<(String, String)>,
    /// An explicit run's own overrides, `key=value`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<String>,
    /// A figure to show beside its result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<f64>,
    /// Who chose it: `grid`, `random`, `tpe`, `startup` (TPE's random start) or `explicit`.
    pub source: String,
}

/// One run a sweep trains.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRun {
    /// Its place in the sweep, from 0.
    pub index: usize,
    /// Its configuration's place.
    pub group: usize,
    /// Its seed's offset from the configuration's first.
    pub seed_offset: usize,
    /// Its name in tables.
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

/// Presets as a sweep names them: their own names and settings.
pub type Bases = BTreeMap<String, (String, RunConfig)>;

/// A checked sweep ready to run.
#[derive(Debug, Clone)]
pub struct SweepPlan {
    /// The spec (with the validation split it runs with in its overrides).
    pub spec: SweepSpec,
    /// Each preset named, as given: its own name and settings.
    bases: Bases,
    /// The configurations fixed in advance (none for TPE).
    fixed: Vec<Configuration>,
    /// Whether the validation split is the sweep's default rather than asked for.
    val_default: bool,
}

impl SweepPlan {
    /// The plan of `spec`: its presets found, its validation split settled, every fixed
    /// configuration built and checked (for TPE, one draw), the count bounded first.
    pub fn new(mut spec: SweepSpec, presets: &PresetDirs) -> Result<Self> {
        spec.check()?;
        spec.run_count()?;
        if spec.free() {
            return Self::from_parts(spec, Bases::new());
        }
        let mut bases = BTreeMap::new();
        let named = std::iter::once(spec.preset.clone())
            .chain(spec.runs.iter().filter_map(|r| r.preset.clone()));
        for name in named {
            if let std::collections::btree_map::Entry::Vacant(slot) = bases.entry(name) {
                let preset = presets.find(slot.key())?;
                slot.insert((preset.name, preset.config));
            }
        }
        let val_default = !spec.mentions("val_split") && bases[&spec.preset].1.val_split == 0;
        if val_default {
            spec.set.push(format!("val_split={SWEEP_VAL_SPLIT}"));
        }
        let mut plan = SweepPlan {
            fixed: Vec::new(),
            spec,
            bases,
            val_default,
        };
        plan.fixed = plan.expand();
        for c in &plan.fixed {
            plan.build(c, 0)?;
        }
        let steps_swept = plan.spec.swept_keys().iter().any(|k| k == "steps");
        if let (
            Some(PrunerSpec::Asha {
                min_steps: Some(m), ..
            }),
            false,
        ) = (plan.spec.prune, steps_swept)
        {
            if m >= plan.steps() {
                return Err(Error::Config(format!(
                    "sweep {}: --prune-min-steps {m} is not below the runs' {} steps, so successive halving would never judge a run",
                    plan.spec.name,
                    plan.steps()
                )));
            }
        }
        if plan.spec.sampler == SamplerKind::Tpe {
            let mut rng = SmallRng::seed_from_u64(plan.spec.seed);
            let point = plan.spec.space().random(&mut rng);
            plan.build(&plan.sampled(0, &point, "tpe"), 0)?;
        }
        Ok(plan)
    }

    /// A plan from its parts as a sweep's folder keeps them: the spec (its validation split
    /// already settled) and the presets' names and settings.
    pub fn from_parts(spec: SweepSpec, bases: Bases) -> Result<Self> {
        spec.check()?;
        if !spec.free() && !bases.contains_key(&spec.preset) {
            return Err(Error::Config(format!(
                "sweep {}: the folder's plan lacks preset {}",
                spec.name, spec.preset
            )));
        }
        let mut plan = SweepPlan {
            spec,
            bases,
            fixed: Vec::new(),
            val_default: false,
        };
        plan.fixed = plan.expand();
        Ok(plan)
    }

    /// The presets its runs start from: as named, their own names and settings.
    pub fn bases(&self) -> &Bases {
        &self.bases
    }

    /// The data settings its runs read the data set with: the first run's (a run whose
    /// settings differ is refused by `Runner::check`, naming the key).
    pub fn data_options(&self) -> crate::data::DataOptions {
        self.sample_runs()
            .ok()
            .and_then(|runs| runs.first().map(|r| r.config.data_options()))
            .unwrap_or_default()
    }

    /// A data set smaller than a sweep's default split takes a tenth of its training images
    /// instead; says so when it does.
    pub fn fit(&mut self, train_len: usize) -> Option<String> {
        if !self.val_default || SWEEP_VAL_SPLIT * 2 <= train_len {
            return None;
        }
        let held = train_len / 10;
        let default = format!("val_split={SWEEP_VAL_SPLIT}");
        for s in self.spec.set.iter_mut().filter(|s| **s == default) {
            *s = format!("val_split={held}");
        }
        Some(format!(
            "{train_len} training images: the sweep holds out {held} for validation instead of {SWEEP_VAL_SPLIT}"
        ))
    }

    /// The configurations a grid or random draws fix: explicit runs first, then every grid
    /// combination for each draw.
    fn expand(&self) -> Vec<Configuration> {
        let spec = &self.spec;
        let mut out = Vec::new();
        for run in &spec.runs {
            out.push(Configuration {
                group: out.len(),
                label: run.name.clone(),
                preset: run.preset.clone().unwrap_or_else(|| spec.preset.clone()),
                swept: Vec::new(),
                extra: run.set.clone(),
                expected: run.expected,
                source: "explicit".into(),
            });
        }
        let draws: Vec<Vec<(String, String)>> = match spec.sampler {
            SamplerKind::Tpe => return out,
            SamplerKind::Grid if spec.grid.is_empty() => return out,
            SamplerKind::Grid => vec![Vec::new()],
            SamplerKind::Random => {
                let space = spec.space();
                let mut rng = SmallRng::seed_from_u64(spec.seed);
                (0..spec.trials)
                    .map(|_| space.text(&space.random(&mut rng)))
                    .collect()
            }
        };
        let combos = grid_combinations(&spec.grid);
        for draw in &draws {
            for combo in &combos {
                let swept: Vec<(String, String)> =
                    combo.iter().chain(draw.iter()).cloned().collect();
                out.push(Configuration {
                    group: out.len(),
                    label: label(&swept, &spec.preset),
                    preset: spec.preset.clone(),
                    swept,
                    extra: Vec::new(),
                    expected: None,
                    source: spec.sampler.name().into(),
                });
            }
        }
        out
    }

    /// A run of every configuration fixed in advance (its first seed), or for TPE one of its
    /// space's first draw: what to check against the data before anything starts.
    pub fn sample_runs(&self) -> Result<Vec<PlannedRun>> {
        if self.spec.sampler == SamplerKind::Tpe {
            let mut rng = SmallRng::seed_from_u64(self.spec.seed);
            let point = self.spec.space().random(&mut rng);
            return Ok(vec![self.run(0, &self.sampled(0, &point, "tpe"))?]);
        }
        let seeds = self.spec.seeds.max(1);
        self.fixed
            .iter()
            .map(|c| self.run(c.group * seeds, c))
            .collect()
    }

    /// How many configurations the sweep tries.
    pub fn groups(&self) -> usize {
        match self.spec.sampler {
            SamplerKind::Tpe => self.spec.trials,
            _ => self.fixed.len(),
        }
    }

    /// How many runs it trains.
    pub fn trials(&self) -> usize {
        self.groups() * self.spec.seeds.max(1)
    }

    /// Run `index`'s configuration and seed offset.
    pub fn locate(&self, index: usize) -> (usize, usize) {
        let seeds = self.spec.seeds.max(1);
        (index / seeds, index % seeds)
    }

    /// Configuration `group` when fixed in advance.
    pub fn fixed(&self, group: usize) -> Option<&Configuration> {
        self.fixed.get(group)
    }

    /// The configurations fixed in advance.
    pub fn fixed_all(&self) -> &[Configuration] {
        &self.fixed
    }

    /// The configuration a sampler chose: `point` of the spec's space.
    pub fn sampled(&self, group: usize, point: &Point, source: &str) -> Configuration {
        let swept = self.spec.space().text(point);
        Configuration {
            group,
            label: label(&swept, &self.spec.preset),
            preset: self.spec.preset.clone(),
            swept,
            extra: Vec::new(),
            expected: None,
            source: source.into(),
        }
    }

    /// Run `index` of configuration `conf`: the preset's settings, the sweep's overrides,
    /// the configuration's, and its seed.
    pub fn run(&self, index: usize, conf: &Configuration) -> Result<PlannedRun> {
        let (_, offset) = self.locate(index);
        let (preset, base, config) = self.build(conf, offset)?;
        let mut label = conf.label.clone();
        let mut swept = conf.swept.clone();
        if self.spec.seeds > 1 {
            label.push_str(&format!(" seed={}", config.seed));
            swept.push(("seed".into(), config.seed.to_string()));
        }
        Ok(PlannedRun {
            index,
            group: conf.group,
            seed_offset: offset,
            label,
            preset,
            swept,
            config,
            base,
            expected: conf.expected,
        })
    }

    /// The preset's name, its settings, and the run's.
    fn build(&self, conf: &Configuration, offset: usize) -> Result<(String, RunConfig, RunConfig)> {
        if self.spec.free() {
            // A command's trial: only its seed is gradboard's; its values are the command's.
            let config = RunConfig {
                seed: self.command_seed().wrapping_add(offset as u64),
                ..RunConfig::default()
            };
            return Ok((self.spec.name.clone(), config.clone(), config));
        }
        let (name, base) = match self.bases.get(&conf.preset) {
            Some(b) => b.clone(),
            None => {
                return Err(Error::Config(format!(
                    "sweep run {:?}: preset {} is not the sweep's",
                    conf.label, conf.preset
                )))
            }
        };
        let mut config = base.clone();
        for s in self.spec.set.iter().chain(&conf.extra) {
            config.apply_override(s)?;
        }
        // A swept net first, so that its variables swept beside it apply to it.
        let (nets, rest): (Vec<_>, Vec<_>) = conf
            .swept
            .iter()
            .partition(|(k, _)| k == crate::config::NET_KEY);
        for (k, v) in nets.into_iter().chain(rest) {
            config.set(k, v)?;
        }
        config.seed = config.seed.wrapping_add(offset as u64);
        config
            .validate()
            .map_err(|e| Error::Config(format!("sweep run {:?}: {e}", conf.label)))?;
        Ok((name, base, config))
    }

    /// The settings every run shares before its own: the preset's with the sweep's
    /// overrides.
    fn common(&self) -> RunConfig {
        let Some((_, base)) = self.bases.get(&self.spec.preset) else {
            return RunConfig::default();
        };
        let mut config = base.clone();
        for s in &self.spec.set {
            let _ = config.apply_override(s);
        }
        config
    }

    /// A command sweep's first seed: its `--set seed=N`, else 0.
    fn command_seed(&self) -> u64 {
        self.spec
            .set
            .iter()
            .filter_map(|s| s.split_once('='))
            .find(|(k, _)| k.trim() == "seed")
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// A command trial's values by key: the sweep's `--set`, the configuration's, its seed
    /// and its index (`{run_dir}` is filled once its folder exists).
    pub fn command_values(&self, index: usize, conf: &Configuration) -> BTreeMap<String, String> {
        let mut values: BTreeMap<String, String> = self
            .spec
            .set
            .iter()
            .filter_map(|s| s.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        values.extend(conf.swept.iter().cloned());
        let seed = self
            .command_seed()
            .wrapping_add(self.locate(index).1 as u64);
        values.insert("seed".into(), seed.to_string());
        values.insert("trial".into(), index.to_string());
        values
    }

    /// The figure the sweep chooses by: a command sweep's metric; else validation accuracy
    /// when its runs hold images out.
    pub fn objective(&self) -> Objective {
        if let Some(c) = &self.spec.command {
            return Objective::Metric {
                name: c.objective.clone(),
                minimize: c.minimize,
            };
        }
        if self.common().val_split > 0 {
            Objective::ValAcc
        } else {
            Objective::TestAcc
        }
    }

    /// The step of the runs' first evaluation (the first rung of successive halving unless
    /// set).
    pub fn first_eval(&self) -> usize {
        if self.spec.free() {
            // A command reports when it will: its first report is the first rung.
            return 1;
        }
        self.common().eval_every
    }

    /// Steps a run trains (the common settings'); 0 for a command, whose steps are its own.
    pub fn steps(&self) -> usize {
        if self.spec.free() {
            return 0;
        }
        self.common().steps
    }
}

/// `key=value key=value`, or the preset's name when nothing is swept.
fn label(swept: &[(String, String)], preset: &str) -> String {
    if swept.is_empty() {
        return preset.to_string();
    }
    swept
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}
