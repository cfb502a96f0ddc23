//! A sweep as the command line's flags and the dashboard's form give it, assembled into a
//! checked spec the same way for both.

use super::{find_sweep, PrunerKind, PrunerOptions, Range, SamplerKind, SweepPlan, SweepSpec};
use crate::config::{Choice, PresetDirs};
use crate::{Error, Result};

/// A sweep file, or a preset with what to vary; settings for every run, the sampler, the
/// seeds, the pruner and a seed. Options left out keep the file's (or their defaults).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SweepRequest {
    /// A sweep file, or the name of a shipped one.
    pub file: Option<String>,
    /// The preset every run starts from (without a file).
    pub preset: Option<String>,
    /// Grid keys and values: `key=v1,v2` (list keys: `key=a,b;c,d`).
    pub grid: Vec<String>,
    /// Ranges: `key=lo..hi[:log]`.
    pub ranges: Vec<String>,
    /// Categorical keys: `key=a,b,c`.
    pub choices: Vec<String>,
    /// The sampler's name (`grid`, `random`, `tpe`).
    pub sampler: Option<String>,
    /// How many random draws or TPE trials.
    pub trials: Option<usize>,
    /// How many random draws (`--random N`: the random sampler with N trials).
    pub random: usize,
    /// Seeds each configuration trains with.
    pub seeds: Option<usize>,
    /// Overrides for every run, `key=value`.
    pub set: Vec<String>,
    /// The pruner's name (`none`, `median`, `asha`); the file's, else none, when not given.
    pub prune: Option<String>,
    /// The pruner's options.
    pub prune_options: PrunerOptions,
    /// Seed of the sampler's draws.
    pub seed: Option<u64>,
}

impl SweepRequest {
    /// The spec, checked: every fixed run's settings are built (`SweepPlan::new`) and the
    /// count bounded.
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
                    spec.add_range(Range::parse(r)?)?;
                }
                for c in &self.choices {
                    spec.add_choice(c)?;
                }
                spec
            }
        };
        if self.random > 0 {
            if self.trials.is_some_and(|t| t != self.random) {
                return Err(Error::Config(
                    "sweep: --random N and --trials disagree; give one".into(),
                ));
            }
            spec.sampler = SamplerKind::Random;
            spec.trials = self.random;
        }
        if let Some(name) = &self.sampler {
            spec.sampler = SamplerKind::parse("sampler", name)?;
            if self.random > 0 && spec.sampler != SamplerKind::Random {
                return Err(Error::Config(format!(
                    "sweep: --random N is the random sampler; with --sampler {name} give --trials N"
                )));
            }
        }
        if let Some(trials) = self.trials {
            spec.trials = trials;
            if self.sampler.is_none() && self.random == 0 && spec.sampler == SamplerKind::Grid {
                spec.sampler = SamplerKind::Random;
            }
        }
        if let Some(seeds) = self.seeds {
            spec.seeds = seeds;
        }
        spec.set.extend(self.set.iter().cloned());
        let kind = match &self.prune {
            Some(name) => PrunerKind::parse("prune", name)?,
            None => spec.prune.map_or(PrunerKind::None, |p| p.kind()),
        };
        let mut options = match spec.prune {
            Some(p) if p.kind() == kind => p.options(),
            _ => PrunerOptions::default(),
        };
        let given = self.prune_options;
        options.warmup = given.warmup.or(options.warmup);
        options.min_runs = given.min_runs.or(options.min_runs);
        options.reduction = given.reduction.or(options.reduction);
        options.min_steps = given.min_steps.or(options.min_steps);
        spec.prune = kind.spec(options)?;
        if let Some(seed) = self.seed {
            spec.seed = seed;
        }
        spec.check()?;
        SweepPlan::new(spec.clone(), presets)?;
        Ok(spec)
    }
}
