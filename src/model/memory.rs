//! The memory a run needs, worked out from its settings before anything is allocated, so that
//! a network or batch that cannot fit is refused with one line instead of aborting the process
//! (or filling memory until the kernel kills it).

use crate::config::RunConfig;
use crate::data::DataShape;
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
pub fn estimate(config: &RunConfig, data: DataShape) -> Estimate {
    // Every model reads its description's summary (the lab models' shorthand expanded).
    let (parameters, per_image, eval_chunk) = match super::summary::of_config(config, data) {
        Some(s) => {
            let convolutional = s.rows.iter().any(|r| r.kind == "conv");
            let chunk = if convolutional { 100 } else { 1000 };
            (s.params, s.activations, chunk)
        }
        None => (0, 0, 0),
    };
    let bytes = step_bytes(parameters, per_image, config.batch_size, eval_chunk);
    Estimate { parameters, bytes }
}

/// Bytes a run needs for a network of `parameters` trainable values whose layers output
/// `per_image` values an image, training at `batch` and evaluating `eval_chunk` images at a
/// time (saturating).
pub fn step_bytes(parameters: u64, per_image: u64, batch: usize, eval_chunk: u64) -> u64 {
    let training = (batch as u64)
        .saturating_mul(per_image)
        .saturating_mul(ACTIVATION_COPIES * F32);
    let evaluation = eval_chunk
        .saturating_mul(per_image)
        .saturating_mul(EVAL_COPIES * F32);
    parameters
        .saturating_mul(PARAM_COPIES * F32)
        .saturating_add(training.max(evaluation))
}

/// The memory a new allocation can have now: the smallest of what the machine has available
/// (Linux's `MemAvailable`), what this process's address-space limit leaves (`ulimit -v`)
/// and what its control groups' memory limits leave; `None` when none can be read.
pub fn available() -> Option<u64> {
    [machine_available(), address_space_room(), cgroup_room()]
        .into_iter()
        .flatten()
        .min()
}

/// A `/proc` or `/sys` file's text.
fn read(path: impl AsRef<std::path::Path>) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The number after `key` in a `key value [kB]` listing (meminfo, status, memory.stat).
fn field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn machine_available() -> Option<u64> {
    Some(field(&read("/proc/meminfo")?, "MemAvailable:")? * 1024)
}

/// What `RLIMIT_AS` leaves beyond the address space this process already holds.
fn address_space_room() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given and nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } != 0
        || limit.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    let held = field(&read("/proc/self/status")?, "VmSize:")? * 1024;
    Some(limit.rlim_cur.saturating_sub(held))
}

/// What this process's memory control groups (v2 `memory.max`, v1 `memory.limit_in_bytes`, at
/// its own group and every group above it) leave, reclaimable file pages counted as free.
fn cgroup_room() -> Option<u64> {
    let groups = read("/proc/self/cgroup")?;
    let mut rooms = Vec::new();
    for line in groups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let (root, files) = match controllers {
            "" => (
                "/sys/fs/cgroup",
                ("memory.max", "memory.current", "inactive_file"),
            ),
            c if c.split(',').any(|c| c == "memory") => (
                "/sys/fs/cgroup/memory",
                (
                    "memory.limit_in_bytes",
                    "memory.usage_in_bytes",
                    "total_inactive_file",
                ),
            ),
            _ => continue,
        };
        let mut dir = std::path::PathBuf::from(root).join(path.trim_start_matches('/'));
        loop {
            if let Some(room) = group_room(&dir, files) {
                rooms.push(room);
            }
            if dir == std::path::Path::new(root) || !dir.pop() {
                break;
            }
        }
    }
    rooms.into_iter().min()
}

/// One group's limit less its usage (plus its inactive file pages); `None` without a limit.
fn group_room(dir: &std::path::Path, (max, current, inactive): (&str, &str, &str)) -> Option<u64> {
    let limit: u64 = read(dir.join(max))?.trim().parse().ok()?;
    // v1 writes "no limit" as a page-rounded i64::MAX.
    if limit >= 1 << 60 {
        return None;
    }
    let used: u64 = read(dir.join(current))?.trim().parse().ok()?;
    let reclaimable = read(dir.join("memory.stat"))
        .and_then(|t| field(&t, inactive))
        .unwrap_or(0);
    Some(limit.saturating_sub(used.saturating_sub(reclaimable)))
}

/// An error when a run of `config` on `data` needs more memory than `available` bytes.
pub fn check_fits(config: &RunConfig, data: DataShape, available: Option<u64>) -> Result<()> {
    check_fits_together(config, data, 1, available)
}

/// An error when `at_once` runs of `config` on `data` training together need more memory
/// than `available` bytes.
pub fn check_fits_together(
    config: &RunConfig,
    data: DataShape,
    at_once: usize,
    available: Option<u64>,
) -> Result<()> {
    let Some(available) = available else {
        return Ok(());
    };
    let e = estimate(config, data);
    let needed = e.bytes.saturating_mul(at_once.max(1) as u64);
    if needed <= available {
        return Ok(());
    }
    let gb = |b: u64| b as f64 / 1e9;
    let runs = match at_once {
        0 | 1 => "this run needs".to_string(),
        n => format!("{n} runs at once need"),
    };
    Err(Error::Config(format!(
        "{runs} about {:.1} GB ({} parameters, batch {}), more than the {:.1} GB available (the machine's free memory, ulimit -v and cgroup limits); use a smaller network or batch{}",
        gb(needed),
        e.parameters,
        config.batch_size,
        gb(available),
        if at_once > 1 { ", or fewer at once (--parallel)" } else { "" }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelKind;

    #[test]
    fn the_presets_fit_and_absurd_networks_do_not() {
        let mlp = RunConfig {
            hidden: vec![800, 400, 200, 100],
            batch_size: 512,
            ..RunConfig::default()
        };
        let e = estimate(&mlp, DataShape::CIFAR10);
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
            estimate(&conv, DataShape::CIFAR10).parameters,
            9_228_362,
            "the lab's 9.2 M with batch norm"
        );
        assert!(
            estimate(&conv, DataShape::CIFAR10).bytes < 1_500_000_000,
            "{:?}",
            estimate(&conv, DataShape::CIFAR10)
        );
        check_fits(&mlp, DataShape::CIFAR10, Some(2_000_000_000)).unwrap();
        let mut huge = mlp.clone();
        huge.hidden = vec![16_384; 16];
        let err = check_fits(&huge, DataShape::CIFAR10, Some(24_000_000_000))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("GB") && err.contains("smaller network"),
            "{err}"
        );
        conv.batch_size = 50_000;
        assert!(check_fits(&conv, DataShape::CIFAR10, Some(24_000_000_000)).is_err());
        check_fits(&huge, DataShape::CIFAR10, None).unwrap();
    }
}
