//! Where a run computes: the device, and which path the hand-written kernels take on it
//! (`Kernels`: the CPU ops on the CPU, their references in plain tensor ops elsewhere). This is
//! the one place the path is chosen; layers carry the `Kernels` it gives them.

use crate::config::{Norm, RunConfig};
use crate::kernels::Kernels;
use crate::{Error, Result};
use candle_core::Device;

/// The device and the kernels a run uses.
#[derive(Debug, Clone)]
pub struct Compute {
    device: Device,
    kernels: Kernels,
}

/// The devices `--device` names.
pub const DEVICES: &[&str] = &["cpu", "cuda", "metal"];

impl Compute {
    /// The CPU with its kernels.
    pub fn cpu() -> Self {
        Compute {
            device: Device::Cpu,
            kernels: Kernels::Cpu,
        }
    }

    /// The CPU through the references only: the path other devices take, for tests that
    /// compare it with the CPU kernels.
    pub fn cpu_reference() -> Self {
        Compute {
            device: Device::Cpu,
            kernels: Kernels::Reference,
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
                kernels: Kernels::Reference,
            }),
        }
    }

    /// The candle device every tensor lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The path the hand-written kernels take.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// The device's name as events record it.
    pub fn name(&self) -> &'static str {
        match self.device {
            Device::Cpu => "cpu",
            Device::Cuda(_) => "cuda",
            Device::Metal(_) => "metal",
        }
    }

    /// Whether this device can run `config` as its keys mean it; a value it cannot run is an
    /// error naming it, never swapped for another.
    pub fn check(&self, config: &RunConfig) -> Result<()> {
        if config.norm == Norm::CustomManual && !self.device.is_cpu() {
            return Err(Error::Config(format!(
                "norm = custom-manual: section 3's hand-written batch norm runs on the cpu only, not on {}; use custom-autograd or batchnorm there",
                self.name()
            )));
        }
        Ok(())
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
