//! Every hand-written CPU kernel, each beside its reference in plain candle tensor ops: the
//! path other devices take, and what the tests compare the kernel against. A kernel module's
//! entry point takes a `Kernels` (which a layer got once from `model::Compute`) and runs the
//! CPU op or the reference; the math is the same on both.
//!
//! Layers: `linear` (the linear layers' product), `bn_act` (the MLP's batch norm,
//! LeakyReLU and dropout), `conv` (3x3 convolutions by im2col or Winograd), `bn_relu` (the
//! ConvNet's batch norm and ReLU), `conv_pool` (a bf16 convolution and its max-pool as one
//! op), `gelu` (GELU, alone and after a batch norm), `whiten`
//! (the frozen patch-whitening first layer), `pool` (overlapping max-pool), `loss` (cross-entropy),
//! `update` (the optimizers' rules). Below them: `gemm`, `sgemm`, `im2col`, `winograd`, `taps`,
//! `bf16` (products in bf16), `amx`, `reduce`, `inplace`, `grad_sink` (parameter gradients filed without candle's zero-fill), `simd` (instruction sets picked at run time) and `cpu` (storage access).

pub mod amx;
pub mod bf16;
pub mod bn_act;
pub mod bn_relu;
pub mod conv;
pub mod conv_pool;
pub mod cpu;
pub mod gelu;
pub mod gemm;
pub mod grad_sink;
pub mod im2col;
pub mod inplace;
pub mod linear;
pub mod loss;
pub mod norm;
pub mod peak;
pub mod pool;
pub mod reduce;
pub mod sgemm;
pub mod simd;
pub mod taps;
pub mod update;
pub mod whiten;
pub mod winograd;

mod uninit;

/// Which implementation the hand-written kernels take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// The CPU ops (custom candle ops on raw f32 slices, SIMD where the CPU has it).
    Cpu,
    /// The references in candle's tensor ops, which every device runs.
    Reference,
}

impl Kernels {
    /// Whether the CPU ops run.
    pub fn cpu(self) -> bool {
        self == Kernels::Cpu
    }
}

/// Where a layer's products run and in which number format.
pub type Products = (Kernels, crate::config::Precision);
