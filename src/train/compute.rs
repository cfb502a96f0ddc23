//! Where a run computes: the device, and whether the CPU fast paths (custom ops) are used or
//! their references in plain tensor ops, which every device has.

use crate::{Error, Result};
use candle_core::Device;

/// The device and the kernels a run uses.
#[derive(Debug, Clone)]
pub struct Compute {
    /// The candle device every tensor lives on.
    pub device: Device,
    /// Custom CPU ops where they exist; false: the plain-op references.
    pub fast: bool,
}

/// The devices `--device` names.
pub const DEVICES: &[&str] = &["cpu", "cuda", "metal"];

impl Compute {
    /// The CPU with its fast paths.
    pub fn cpu() -> Self {
        Compute {
            device: Device::Cpu,
            fast: true,
        }
    }

    /// The CPU through the reference paths only (tests compare the two).
    pub fn cpu_reference() -> Self {
        Compute {
            device: Device::Cpu,
            fast: false,
        }
    }

    /// The device `--device NAME` names: `cpu`, or `cuda` / `metal` where this build has them.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "cpu" => Ok(Self::cpu()),
            "cuda" => Self::gpu(name, cuda_device()),
            "metal" => Self::gpu(name, metal_device()),
            other => Err(Error::Config(format!(
                "--device {other:?}: unknown device; allowed: {}",
                DEVICES.join(", ")
            ))),
        }
    }

    fn gpu(name: &str, device: Option<candle_core::Result<Device>>) -> Result<Self> {
        match device {
            None => Err(Error::Config(format!(
                "--device {name}: this build has no {name} backend; rebuild with `cargo build --release --features {name}`"
            ))),
            Some(Err(e)) => Err(Error::Config(format!(
                "--device {name}: {}",
                e.to_string().lines().next().unwrap_or("not available")
            ))),
            Some(Ok(device)) => Ok(Compute {
                device,
                fast: false,
            }),
        }
    }

    /// The device's name as events record it.
    pub fn name(&self) -> &'static str {
        match self.device {
            Device::Cpu => "cpu",
            Device::Cuda(_) => "cuda",
            Device::Metal(_) => "metal",
        }
    }

    /// Whether the CPU fast paths apply.
    pub fn use_fast(&self) -> bool {
        self.fast && self.device.is_cpu()
    }
}

#[cfg(feature = "cuda")]
fn cuda_device() -> Option<candle_core::Result<Device>> {
    Some(Device::new_cuda(0))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device() -> Option<candle_core::Result<Device>> {
    None
}

#[cfg(feature = "metal")]
fn metal_device() -> Option<candle_core::Result<Device>> {
    Some(Device::new_metal(0))
}

#[cfg(not(feature = "metal"))]
fn metal_device() -> Option<candle_core::Result<Device>> {
    None
}
