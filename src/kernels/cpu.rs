//! Reading a CPU tensor's f32 values in place, for the backward passes of custom ops (which
//! receive tensors, not storages).

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, Result, Storage, Tensor};

/// Calls `f` with the values of `t`, which must be a contiguous f32 tensor on the CPU (made
/// contiguous first when it is not).
pub fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match (&*storage, layout.contiguous_offsets()) {
        (Storage::Cpu(CpuStorage::F32(v)), Some((a, b))) => Ok(f(&v[a..b])),
        (Storage::Cpu(_), _) => candle_core::bail!("expected an f32 tensor, got {:?}", t.dtype()),
        _ => candle_core::bail!("expected a tensor on the CPU"),
    }
}

/// The f32 values of a CPU storage and layout, which must be contiguous.
pub fn f32_slice<'a>(s: &'a CpuStorage, l: &candle_core::Layout, what: &str) -> Result<&'a [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&v[a..b]),
        (CpuStorage::F32(_), None) => candle_core::bail!("{what}: needs a contiguous input"),
        _ => candle_core::bail!("{what}: f32 only, got {:?}", s.dtype()),
    }
}
