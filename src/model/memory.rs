//! The memory a run needs, worked out from its settings before anything is allocated, so that
//! a network or batch that cannot fit is refused with one line instead of aborting the process
//! (or filling memory until the kernel kills it).

use super::network::{mlp_widths, INPUTS};
use crate::config::{ModelKind, RunConfig};
use crate::{Error, Result};

/// Bytes of an f32.
const F32: u64 = 4;
/// Copies of every parameter a training run holds: the weights, their gradient, two optimizer
/// slots, and the checkpoint's snapshot.
const PARAM_COPIES: u64 = 5;
/// Copies of each activation a training step holds (outputs, masks, gradients, and for the
/// ConvNet Winograd's transformed inputs and outputs), measured on the presets and rounded up.
const ACTIVATION_COPIES: u64 = 12;
/// Copies an evaluation holds (no gradients).
const EVAL_COPIES: u64 = 4;

/// What a run of `config` needs: its trainable values and an estimate of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// Trainable values (weights and biases).
    pub parameters: u64,
    /// Bytes, parameters and one step's activations together, data set aside.
    pub bytes: u64,
}

/// The estimate for `config` (saturating: absurd settings give an absurd figure, never an
/// overflow).
pub fn estimate(config: &RunConfig) -> Estimate {
    let (parameters, per_image, eval_chunk) = match config.model {
        ModelKind::Mlp => {
            let widths: Vec<u64> = mlp_widths(&config.hidden)
                .into_iter()
                .map(|w| w as u64)
                .collect();
            let parameters = widths
                .windows(2)
                .map(|w| w[0].saturating_mul(w[1]).saturating_add(w[1]))
                .fold(0u64, u64::saturating_add);
            let per_image = widths
                .iter()
                .skip(1)
                .fold(INPUTS as u64, |a, &w| a.saturating_add(w));
            (parameters, per_image, 1000)
        }
        ModelKind::Convnet => {
            let (convs, c, side) = super::architecture::convnet_convs();
            let parameters = convs
                .iter()
                .map(|v| (v.c_in * v.c_out * 9 + 2 * v.c_out) as u64)
                .sum::<u64>()
                + (c * side * side * 10 + 10) as u64;
            let per_image = super::architecture::convnet_maps()
                .iter()
                .map(|(c, s)| (c * s * s) as u64)
                .sum();
            (parameters, per_image, 100)
        }
    };
    let training = (config.batch_size as u64)
        .saturating_mul(per_image)
        .saturating_mul(ACTIVATION_COPIES * F32);
    let evaluation = eval_chunk * per_image * EVAL_COPIES * F32;
    let bytes = parameters
        .saturating_mul(PARAM_COPIES * F32)
        .saturating_add(training.max(evaluation));
    Estimate { parameters, bytes }
}

/// The memory this machine has available now (Linux's `MemAvailable`), when it can be read.
pub fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// An error when a run of `config` needs more memory than `available` bytes.
pub fn check_fits(config: &RunConfig, available: Option<u64>) -> Result<()> {
    let Some(available) = available else {
        return Ok(());
    };
    let e = estimate(config);
    if e.bytes <= available {
        return Ok(());
    }
    let gb = |b: u64| b as f64 / 1e9;
    Err(Error::Config(format!(
        "this run needs about {:.1} GB ({} parameters, batch {}), more than the {:.1} GB this machine has available; use a smaller network or batch",
        gb(e.bytes),
        e.parameters,
        config.batch_size,
        gb(available)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_presets_fit_and_absurd_networks_do_not() {
        let mlp = RunConfig {
            hidden: vec![800, 400, 200, 100],
            batch_size: 512,
            ..RunConfig::default()
        };
        let e = estimate(&mlp);
        assert_eq!(
            e.parameters,
            3072 * 800 + 800 + 800 * 400 + 400 + 400 * 200 + 200 + 200 * 100 + 100 + 100 * 10 + 10
        );
        assert!(e.bytes < 500_000_000, "{e:?}");
        let mut conv = RunConfig {
            model: ModelKind::Convnet,
            batch_size: 32,
            ..RunConfig::default()
        };
        assert_eq!(
            estimate(&conv).parameters,
            9_228_362,
            "the lab's 9.2 M with batch norm"
        );
        assert!(
            estimate(&conv).bytes < 1_500_000_000,
            "{:?}",
            estimate(&conv)
        );
        check_fits(&mlp, Some(2_000_000_000)).unwrap();
        let mut huge = mlp.clone();
        huge.hidden = vec![16_384; 16];
        let err = check_fits(&huge, Some(24_000_000_000))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("GB") && err.contains("smaller network"),
            "{err}"
        );
        conv.batch_size = 50_000;
        assert!(check_fits(&conv, Some(24_000_000_000)).is_err());
        check_fits(&huge, None).unwrap();
    }
}
