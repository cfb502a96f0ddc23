//! A sweep as the command line's flags and the dashboard's form give it, assembled into a
//! checked spec the same way for both.

use super::{
    find_sweep, minimizes, CommandSpec, PrunerKind, PrunerOptions, Range, SamplerKind, SweepPlan,
    SweepSpec, DEFAULT_KILL_AFTER,
};
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
    /// A command to run for each trial instead of gradboard's runs (one line, `{key}` places).
    pub command: Option<String>,
    /// A command sweep's objective: the metric's name.
    pub objective: Option<String>,
    /// Which evaluations make a run's figure (`best`, `final`, `last-K`); the file's, else
    /// `best`, when not given.
    pub objective_at: Option<String>,
    /// A command sweep's direction: `max` or `min`.
    pub direction: Option<String>,
    /// A command sweep's grace between SIGTERM and SIGKILL, in seconds.
    pub kill_after: Option<f64>,
}

impl SweepRequest {
    /// Adds the grid keys, ranges and choices to `spec` (checked as its kind of keys).
    fn add_swept(&self, spec: &mut SweepSpec) -> Result<()> {
        for g in &self.grid {
            spec.add_grid(g)?;
        }
        for r in &self.ranges {
            spec.add_range(Range::read(r)?)?;
        }
        for c in &self.choices {
            spec.add_choice(c)?;
        }
        Ok(())
    }

    /// The spec, checked: every fixed run's settings are built (`SweepPlan::new`) and the
    /// count bounded.
    pub fn assemble(&self, presets: &PresetDirs) -> Result<SweepSpec> {
        let command_only =
            self.objective.is_some() || self.direction.is_some() || self.kill_after.is_some();
        let mut spec = match (&self.file, &self.command) {
            (Some(_), Some(_)) => return Err(Error::Config(
                "sweep: give a sweep file or --command, not both (a file holds command = [...])"
                    .into(),
            )),
            (None, Some(line)) => {
                if self.preset.is_some() {
                    return Err(Error::Config(
                        "sweep: --preset trains gradboard's runs; --command runs your program: give one".into(),
                    ));
                }
                let command = CommandSpec::from_line(
                    line,
                    self.objective.as_deref().unwrap_or(""),
                    minimizes(self.direction.as_deref())?,
                    self.kill_after.unwrap_or(DEFAULT_KILL_AFTER),
                )?;
                let mut spec = SweepSpec::of_command(command);
                self.add_swept(&mut spec)?;
                spec
            }
            (Some(name), None) => {
                let mut spec = find_sweep(presets, name)?;
                match &mut spec.command {
                    Some(c) => {
                        // The file's command with the flags' objective, direction and grace.
                        let minimize = match &self.direction {
                            Some(d) => minimizes(Some(d))?,
                            None => c.minimize,
                        };
                        let objective = self.objective.as_deref().unwrap_or(&c.objective);
                        let kill_after = self.kill_after.unwrap_or(c.kill_after);
                        *c = CommandSpec {
                            workdir: c.workdir.clone(),
                            ..CommandSpec::new(c.argv.clone(), objective, minimize, kill_after)?
                        };
                    }
                    None if command_only => return Err(Error::Config(
                        "sweep: --objective, --direction and --kill-after are for a command sweep"
                            .into(),
                    )),
                    None => {}
                }
                spec
            }
            (None, None) => {
                if command_only {
                    return Err(Error::Config(
                        "sweep: --objective, --direction and --kill-after are for a command sweep (--command '...')".into(),
                    ));
                }
                let preset = self
                    .preset
                    .as_deref()
                    .ok_or_else(|| Error::Config("sweep: give a sweep file or a preset".into()))?;
                let mut spec = SweepSpec::new(preset, preset);
                self.add_swept(&mut spec)?;
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
        if let Some(at) = &self.objective_at {
            spec.objective_at = super::ObjectiveAt::parse(at)?;
        }
        spec.check()?;
        SweepPlan::new(spec.clone(), presets)?;
        Ok(spec)
    }
}
