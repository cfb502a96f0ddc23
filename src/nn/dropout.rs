//! Inverted dropout with masks drawn from the run's seeded generator: the mask is drawn here
//! and applied by the hidden layer's kernel (`kernels::bn_act`) or by `apply_mask`.

use candle_core::{Result, Tensor};
use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};
use rayon::prelude::*;

/// Mask values a parallel task draws, each from its own generator.
const MASK_CHUNK: usize = 16 * 1024;

/// Inverted dropout's mask of `len` values: 0 with probability `p`, else 1 / (1 - p). One
/// seed is drawn from `rng`; each chunk of `MASK_CHUNK` values has its own generator seeded
/// from it and the chunk's index, so the chunks are drawn in parallel and the mask is the
/// same on any number of threads.
pub fn dropout_mask(len: usize, p: f64, rng: &mut SmallRng) -> Vec<f32> {
    let scale = (1.0 / (1.0 - p)) as f32;
    // A unit is dropped when a uniform u32 falls below p * 2^32.
    let threshold = (p * 4_294_967_296.0).min(u32::MAX as f64) as u32;
    let pick = |bits: u32| if bits < threshold { 0.0 } else { scale };
    let seed = rng.next_u64();
    let mut mask = vec![0f32; len];
    mask.par_chunks_mut(MASK_CHUNK)
        .enumerate()
        .for_each(|(i, chunk)| {
            let mut chunk_rng =
                SmallRng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            for pair in chunk.chunks_mut(2) {
                let bits = chunk_rng.next_u64();
                pair[0] = pick(bits as u32);
                if let Some(second) = pair.get_mut(1) {
                    *second = pick((bits >> 32) as u32);
                }
            }
        });
    mask
}

/// `x` times the mask, when there is one.
pub fn apply_mask(x: &Tensor, mask: Option<Vec<f32>>) -> Result<Tensor> {
    match mask {
        Some(m) => x * Tensor::from_vec(m, x.shape(), x.device())?.to_dtype(x.dtype())?,
        None => Ok(x.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a pool")
            .install(f)
    }

    /// The mask is 0 or 1 / (1 - p), drops close to p of the units, follows the seed, and is
    /// the same on one thread as on four (chunks past the first included).
    #[test]
    fn masks_follow_the_seed_on_any_number_of_threads() {
        let (len, p) = (3 * MASK_CHUNK + 7, 0.2);
        let draw = |seed: u64| dropout_mask(len, p, &mut SmallRng::seed_from_u64(seed));
        let one = on_threads(1, || draw(5));
        let four = on_threads(4, || draw(5));
        assert_eq!(one, four);
        assert_ne!(one, draw(6));
        let scale = (1.0 / (1.0 - p)) as f32;
        assert!(one.iter().all(|&v| v == 0.0 || v == scale));
        let dropped = one.iter().filter(|&&v| v == 0.0).count() as f64 / len as f64;
        assert!((dropped - p).abs() < 0.01, "dropped {dropped}");
        // The chunks are not copies of one another.
        assert_ne!(one[..MASK_CHUNK], one[MASK_CHUNK..2 * MASK_CHUNK]);
    }
}
