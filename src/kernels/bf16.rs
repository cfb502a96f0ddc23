//! The products of `precision = "bf16"`: both operands rounded to bf16 (nearest even), the
//! products summed in f32. One meaning on every machine, three ways to compute it: tiles of
//! bf16 pairs (`amx::product`) multiplied by AMX where the CPU has AMX-BF16 and the kernel
//! grants it, else by AVX512_BF16's VDPBF16PS where the CPU has that; elsewhere on the CPU
//! the operands rounded into f32 copies and multiplied by the f32 kernels (`rounded_product`;
//! a 3x3 convolution then goes by f32's Winograd or taps on its rounded operands, at about
//! f32's speed: `conv::conv2d_chwn_bf16`; `bench` says which runs); on other devices the
//! tensors rounded by a cast to bf16 and back (`round_tensor`) before candle's f32 ops.

use super::amx;
use super::gemm::{product as f32_product, View};
use crate::config::Precision;
use candle_core::{DType, Result, Tensor};

/// `a` times `b` in `precision`: the f32 kernels, or bf16-rounded operands summed in f32.
pub fn product(precision: Precision, a: View, b: View) -> Vec<f32> {
    match precision {
        Precision::F32 => f32_product(a, b, 1.0),
        Precision::Bf16 if amx::engine().is_some() => amx::product(a, b),
        Precision::Bf16 => rounded_product(a, b),
    }
}

/// What computes a bf16 product here, as `bench` names it.
pub fn method() -> &'static str {
    match amx::engine() {
        Some(engine) => engine.name(),
        None => "bf16-rounded operands on the f32 kernels",
    }
}

/// The bf16 product on the f32 kernels: each operand rounded into a row-major f32 copy, then
/// multiplied (the reference the AMX product is tested against, and its fallback).
pub fn rounded_product(a: View, b: View) -> Vec<f32> {
    let (a_rounded, b_rounded) = (rounded(a), rounded(b));
    f32_product(
        View::rows(&a_rounded, a.height(), a.width()),
        View::rows(&b_rounded, b.height(), b.width()),
        1.0,
    )
}

/// A view's elements rounded to bf16, as f32, row-major.
fn rounded(v: View) -> Vec<f32> {
    let mut out = Vec::with_capacity(v.height() * v.width());
    for i in 0..v.height() {
        match v.row(i) {
            Some(row) => out.extend(row.iter().map(|&x| round(x))),
            None => out.extend((0..v.width()).map(|j| round(v.at(i, j)))),
        }
    }
    out
}

/// `values` rounded to bf16, as f32 (the operands of a bf16 convolution on the f32 kernels).
pub fn rounded_values(values: &[f32]) -> Vec<f32> {
    values.iter().map(|&x| round(x)).collect()
}

/// `x` rounded to the nearest bf16 (ties to even), as an f32.
pub fn round(x: f32) -> f32 {
    amx::from_bf16(amx::to_bf16(x))
}

/// A tensor's values rounded to bf16 and kept in f32 (a cast there and back; gradients flow
/// through it): the reference paths' operands in `precision = "bf16"`.
pub fn round_tensor(precision: Precision, t: &Tensor) -> Result<Tensor> {
    match precision {
        Precision::F32 => Ok(t.clone()),
        Precision::Bf16 => t.to_dtype(DType::BF16)?.to_dtype(DType::F32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_multiplies_the_rounded_operands() {
        // 1 + 2^-9 rounds to 1 in bf16; 3 + 2^-7 to 3.
        let a = [1.0 + 1.0 / 512.0, 3.0 + 1.0 / 128.0];
        let b = [2.0, 1.0];
        let got = rounded_product(View::rows(&a, 1, 2), View::rows(&b, 2, 1));
        assert_eq!(got, vec![2.0 + 3.0]);
        let f32_sum = product(Precision::F32, View::rows(&a, 1, 2), View::rows(&b, 2, 1));
        assert!(f32_sum[0] > 5.0, "f32 keeps the low bits: {f32_sum:?}");
    }

    #[test]
    fn every_bf16_path_gives_the_rounded_product() {
        let (m, k, n) = (37, 300, 53);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 37.0)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 53 % 89) as f32 - 44.0) / 29.0)
            .collect();
        let (av, bv) = (View::rows(&a, m, k), View::rows(&b, k, n).t().t());
        let reference = rounded_product(av, bv);
        let got = product(Precision::Bf16, av, bv);
        let scale: f32 = reference.iter().map(|x| x.abs()).fold(0.0, f32::max);
        for (g, r) in got.iter().zip(&reference) {
            // Both sum the same exact products in f32, in different orders.
            assert!((g - r).abs() <= 1e-5 * scale, "{g} vs {r}");
        }
        let tensor = Tensor::new(&a[..], &candle_core::Device::Cpu).unwrap();
        let cast = round_tensor(Precision::Bf16, &tensor)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!(cast.iter().zip(&a).all(|(c, &x)| *c == round(x)));
    }
}
