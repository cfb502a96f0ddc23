//! CPU fast paths: the section 1 matrix product and in-place updates. Each has a reference in
//! plain candle ops, used on other devices and by the tests that check the fast path.

pub mod conv;
pub mod cpu;
pub mod gemm;
pub mod inplace;
pub mod reduce;
pub mod sgemm;
pub mod simd;
pub mod winograd;
