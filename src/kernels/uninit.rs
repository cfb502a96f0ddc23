//! Vectors filled in place without a zeroing pass first: the kernels write every output value
//! exactly once, so zeroing would be a wasted pass over memory.

use std::mem::MaybeUninit;

/// A vector of `len` values, each written by `fill` into the vector's uninitialised memory.
///
/// # Safety
/// `fill` must write every one of the `len` values (a value left unwritten would be read as
/// garbage). If `fill` panics the vector is dropped empty.
pub(crate) unsafe fn written<T>(len: usize, fill: impl FnOnce(&mut [MaybeUninit<T>])) -> Vec<T> {
    let mut v: Vec<T> = Vec::with_capacity(len);
    fill(&mut v.spare_capacity_mut()[..len]);
    // SAFETY: the caller promises that `fill` wrote all `len` values.
    unsafe { v.set_len(len) };
    v
}

/// `buf` filled with `value`, as initialised values.
pub(crate) fn filled<T: Copy>(buf: &mut [MaybeUninit<T>], value: T) -> &mut [T] {
    buf.fill(MaybeUninit::new(value));
    // SAFETY: every element was just written.
    unsafe { &mut *(buf as *mut [MaybeUninit<T>] as *mut [T]) }
}

/// `buf` as initialised values, once every one of them has been written.
///
/// # Safety
/// Every element of `buf` must have been written.
pub(crate) unsafe fn assume_written<T>(buf: &mut [MaybeUninit<T>]) -> &mut [T] {
    // SAFETY: the caller promises every element was written.
    unsafe { &mut *(buf as *mut [MaybeUninit<T>] as *mut [T]) }
}
