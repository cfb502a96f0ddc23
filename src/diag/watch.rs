//! Warnings a user can act on, from the `layers` figures: updates far from the healthy 1e-3 of
//! the weights for many checks in a row, activations that vanish or explode layer after layer
//! or are far too large outright, a layer whose units are mostly dead. Each kind and layer is
//! warned once, with advice that fits the run's settings (never a setting it already has).

use crate::config::{Choice, ModelKind, Norm, OptimizerKind, RunConfig};
use crate::events::{ActStats, ParamStats};
use std::collections::{HashMap, HashSet};

/// Update ratios below this for `RATIO_CHECKS` checks in a row: the layer barely learns.
pub const RATIO_LOW: f64 = 1e-5;
/// Update ratios above this for `RATIO_CHECKS` checks in a row: the steps are too big.
pub const RATIO_HIGH: f64 = 1e-1;
/// Checks in a row before an update ratio is warned about.
pub const RATIO_CHECKS: usize = 5;
/// How far (a factor) the last hidden layer's output spread may fall below, or rise above,
/// the first's before it is called vanishing or exploding.
pub const SPREAD_FACTOR: f64 = 1e3;
/// The dead fraction past which a layer is warned about.
pub const DEAD: f64 = 0.5;
/// A hidden layer's output spread past which it is called exploding outright (healthy
/// networks keep it near 1).
pub const ACT_STD_HIGH: f64 = 1e2;

/// What to try against activations that are too large, from what the run has.
fn too_large_advice(config: &RunConfig) -> String {
    let adaptive = matches!(
        config.optimizer,
        OptimizerKind::Adam | OptimizerKind::Adamw | OptimizerKind::Rmsprop
    );
    match config.init_std {
        Some(std) if std >= 0.05 => {
            format!(
                "init_std = {std} draws weights too large: try 0.01, or unset it for the default"
            )
        }
        _ if adaptive && config.lr > 1e-2 => format!(
            "lr = {} is large for {}: try {}",
            config.lr,
            config.optimizer.name(),
            config.lr / 10.0
        ),
        _ if config.norm == Norm::None && config.model != ModelKind::Net => {
            format!(
                "try batch norm (norm = batchnorm), or a smaller lr than {}",
                config.lr
            )
        }
        _ => format!("try a smaller lr than {}", config.lr),
    }
}

/// What to try against dead units: LeakyReLU only where the run has plain ReLU, batch norm
/// only where it has none.
fn dead_advice(config: &RunConfig) -> String {
    let mut tries = vec![format!("a smaller lr than {}", config.lr)];
    if config.neg_slope == 0.0 && config.model != ModelKind::Net {
        tries.push("LeakyReLU (neg_slope = 0.02)".into());
    }
    if config.norm == Norm::None && config.model != ModelKind::Net {
        tries.push("batch norm (norm = batchnorm)".into());
    }
    format!("try {}", tries.join(", or "))
}

/// One warning.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    /// `update_ratio`, `vanishing`, `exploding` or `dead`.
    pub kind: String,
    /// The layer.
    pub layer: String,
    /// In words, with what to try.
    pub message: String,
}

/// Whether the parameter is a linear or convolution layer's weight matrix (biases and batch
/// norms' scales have no healthy ratio to hold to).
pub fn is_matrix(name: &str) -> bool {
    name.ends_with(".weight") && !name.contains("norm") && !name.contains(".bn")
}

/// What a run's checks have seen so far.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    /// Each weight's checks in a row outside the healthy band, and on which side.
    ratio_runs: HashMap<String, (usize, bool)>,
    /// (kind, layer) already warned about.
    warned: HashSet<(String, String)>,
}

impl Watch {
    /// A watch that has already warned about `warned` (a resumed run's warnings).
    pub fn with_warned<'a>(warned: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Watch {
            warned: warned
                .into_iter()
                .map(|(k, l)| (k.to_string(), l.to_string()))
                .collect(),
            ..Watch::default()
        }
    }

    /// The warnings one `layers` check of a run with settings `config` calls for (each kind
    /// and layer once).
    pub fn check(
        &mut self,
        params: &[ParamStats],
        acts: &[ActStats],
        config: &RunConfig,
    ) -> Vec<Warning> {
        let mut out = Vec::new();
        for p in params.iter().filter(|p| is_matrix(&p.name)) {
            let side = if p.update_ratio < RATIO_LOW {
                Some(false)
            } else if p.update_ratio > RATIO_HIGH {
                Some(true)
            } else {
                None
            };
            let run = self.ratio_runs.entry(p.name.clone()).or_insert((0, false));
            match side {
                Some(high) if run.0 > 0 && run.1 == high => run.0 += 1,
                Some(high) => *run = (1, high),
                None => *run = (0, false),
            }
            if run.0 >= RATIO_CHECKS {
                let advice = if run.1 {
                    "steps this large tear the weights apart: lower lr"
                } else {
                    "the layer barely moves: raise lr, or change its init"
                };
                out.push(Warning {
                    kind: "update_ratio".into(),
                    layer: p.name.clone(),
                    message: format!(
                        "{}: each update changes the weights by {:.1e} of their norm for {} checks in a row (about 1e-3 is healthy); {advice}",
                        p.name, p.update_ratio, run.0
                    ),
                });
            }
        }
        if let (Some(first), Some(last)) = (acts.first(), acts.last()) {
            // Layer after layer: no later layer back above (or below) the first.
            let monotone = |up: bool| {
                acts[1..].iter().all(|a| {
                    if up {
                        a.std >= first.std
                    } else {
                        a.std <= first.std
                    }
                })
            };
            if acts.len() > 1 && first.std > 0.0 {
                let ratio = last.std / first.std;
                if ratio < 1.0 / SPREAD_FACTOR && monotone(false) {
                    out.push(Warning {
                        kind: "vanishing".into(),
                        layer: last.name.clone(),
                        message: format!(
                            "activations vanish layer after layer: std {:.1e} at {} down to {:.1e} at {}; try batch norm or a larger init (init_std)",
                            first.std, first.name, last.std, last.name
                        ),
                    });
                } else if ratio > SPREAD_FACTOR && monotone(true) {
                    out.push(Warning {
                        kind: "exploding".into(),
                        layer: last.name.clone(),
                        message: format!(
                            "activations explode layer after layer: std {:.1e} at {} up to {:.1e} at {}; {}",
                            first.std,
                            first.name,
                            last.std,
                            last.name,
                            too_large_advice(config)
                        ),
                    });
                }
            }
        }
        // Too large outright, whatever the layers before did: the first such layer.
        if !out.iter().any(|w| w.kind == "exploding") {
            if let Some(a) = acts.iter().find(|a| a.std > ACT_STD_HIGH) {
                out.push(Warning {
                    kind: "exploding".into(),
                    layer: a.name.clone(),
                    message: format!(
                        "{}: its outputs' std is {:.1e} (about 1 is healthy); {}",
                        a.name,
                        a.std,
                        too_large_advice(config)
                    ),
                });
            }
        }
        for a in acts.iter().filter(|a| a.dead > DEAD) {
            out.push(Warning {
                kind: "dead".into(),
                layer: a.name.clone(),
                message: format!(
                    "{}: {:.0} % of its units never fire on the probe batch; {}",
                    a.name,
                    a.dead * 100.0,
                    dead_advice(config)
                ),
            });
        }
        out.retain(|w| self.warned.insert((w.kind.clone(), w.layer.clone())));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(name: &str, ratio: f64) -> ParamStats {
        ParamStats {
            name: name.into(),
            norm: 1.0,
            grad_norm: 1.0,
            grad_mean_abs: 0.1,
            update_ratio: ratio,
            q: [0.0; 7],
            grad_q: [0.0; 7],
        }
    }

    fn act(name: &str, std: f64, dead: f64) -> ActStats {
        ActStats {
            name: name.into(),
            mean: 0.0,
            std,
            dead,
            q: [0.0; 7],
        }
    }

    #[test]
    fn a_ratio_far_from_1e3_for_five_checks_in_a_row_is_warned_once() {
        let mut w = Watch::default();
        for _ in 0..4 {
            assert!(w
                .check(
                    &[param("fc1.weight", 1e-7), param("fc1.bias", 1e-9)],
                    &[],
                    &RunConfig::default()
                )
                .is_empty());
        }
        let warned = w.check(&[param("fc1.weight", 1e-7)], &[], &RunConfig::default());
        assert_eq!(warned.len(), 1);
        assert_eq!(warned[0].kind, "update_ratio");
        assert!(
            warned[0].message.contains("raise lr"),
            "{}",
            warned[0].message
        );
        assert!(
            w.check(&[param("fc1.weight", 1e-7)], &[], &RunConfig::default())
                .is_empty(),
            "once"
        );
        // A healthy check breaks the run.
        let mut w = Watch::default();
        for r in [1.0, 1.0, 1e-3, 1.0, 1.0, 1.0, 1.0] {
            assert!(w
                .check(&[param("fc2.weight", r)], &[], &RunConfig::default())
                .is_empty());
        }
    }

    #[test]
    fn vanishing_exploding_and_dead_layers() {
        let mut w = Watch::default();
        let vanishing = [
            act("h1", 1.0, 0.0),
            act("h2", 1e-2, 0.0),
            act("h3", 1e-4, 0.0),
        ];
        let warned = w.check(&[], &vanishing, &RunConfig::default());
        assert_eq!(warned[0].kind, "vanishing");
        assert_eq!(warned[0].layer, "h3");
        let mut w = Watch::with_warned([("vanishing", "h3")]);
        assert!(
            w.check(&[], &vanishing, &RunConfig::default()).is_empty(),
            "a resumed run warns no twice"
        );
        let exploding = [
            act("h1", 1.0, 0.0),
            act("h2", 50.0, 0.0),
            act("h3", 5e3, 0.0),
        ];
        assert_eq!(
            Watch::default().check(&[], &exploding, &RunConfig::default())[0].kind,
            "exploding"
        );
        // Not layer after layer: a rise above the first, then a fall, is no trend.
        let mixed = [
            act("h1", 1.0, 0.0),
            act("h2", 2.0, 0.0),
            act("h3", 1e-4, 0.0),
        ];
        assert!(Watch::default()
            .check(&[], &mixed, &RunConfig::default())
            .is_empty());
        let dead = Watch::default().check(&[], &[act("h1", 1.0, 0.75)], &RunConfig::default());
        assert_eq!(
            (dead[0].kind.as_str(), dead[0].layer.as_str()),
            ("dead", "h1")
        );
    }

    /// init_std = 0.2 (activation std 3.8e2, no trend across layers) is warned by scale, with
    /// the advice to lower it; Adam at lr 0.05 is told its lr; dead units on a run that
    /// already has LeakyReLU and batch norm are not told to add them.
    #[test]
    fn scale_warnings_and_advice_that_fit_the_settings() {
        let flat_but_huge = [act("h1", 3.8e2, 0.0), act("h2", 3.5e2, 0.0)];
        let big_init = RunConfig {
            init_std: Some(0.2),
            ..RunConfig::default()
        };
        let w = Watch::default().check(&[], &flat_but_huge, &big_init);
        assert_eq!(
            (w[0].kind.as_str(), w[0].layer.as_str()),
            ("exploding", "h1")
        );
        assert!(w[0].message.contains("init_std = 0.2"), "{}", w[0].message);
        let adam = RunConfig {
            optimizer: OptimizerKind::Adam,
            lr: 0.05,
            ..RunConfig::default()
        };
        let w = Watch::default().check(&[], &flat_but_huge, &adam);
        assert!(
            w[0].message.contains("lr = 0.05 is large for adam"),
            "{}",
            w[0].message
        );
        let mut leaky_bn = adam.clone();
        leaky_bn.neg_slope = 0.02;
        leaky_bn.norm = Norm::Batchnorm;
        let dead = Watch::default().check(&[], &[act("h1", 1.0, 0.9)], &leaky_bn);
        assert!(
            !dead[0].message.contains("neg_slope") && !dead[0].message.contains("batch norm"),
            "{}",
            dead[0].message
        );
        let relu = RunConfig {
            neg_slope: 0.0,
            ..RunConfig::default()
        };
        let dead = Watch::default().check(&[], &[act("h1", 1.0, 0.9)], &relu);
        assert!(dead[0].message.contains("LeakyReLU"), "{}", dead[0].message);
    }
}
