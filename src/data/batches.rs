//! Mini-batches drawn without replacement, reshuffled every epoch from a seeded generator.

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// One preprocessed mini-batch, flat: `labels.len()` rows of 3072 values.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Preprocessed pixels, row-major (batch, 3072), each row channel-major.
    pub inputs: Vec<f32>,
    /// Labels 0..9.
    pub labels: Vec<u8>,
}

impl Batch {
    /// Number of images in the batch.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Draws indices epoch by epoch: a fresh permutation whenever the current one cannot fill a
/// whole batch (the lab's `DataSet.next_batch`; the tail of an epoch is skipped). Epoch `e`'s
/// permutation depends only on the seed and `e`, so a sampler is restored from its position.
#[derive(Debug, Clone)]
pub struct BatchSampler {
    order: Vec<u32>,
    position: usize,
    seed: u64,
    epochs_started: usize,
}

/// Where a sampler stands: epochs started and the position in the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SamplerPosition {
    /// Epochs started so far.
    pub epochs_started: usize,
    /// Indices drawn from the current epoch's permutation.
    pub position: usize,
}

/// A seed for stream `stream` of a run seeded with `seed` (splitmix64 of the pair), so that
/// each random source of a run is independent and can be recreated at any point.
pub fn derive_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl BatchSampler {
    /// A sampler over `len` items seeded with `seed`.
    pub fn new(len: usize, seed: u64) -> Self {
        Self::over((0..len as u32).collect(), seed)
    }

    /// A sampler over the items `items` (ascending) seeded with `seed`: it draws only them.
    pub fn over(items: Vec<u32>, seed: u64) -> Self {
        BatchSampler {
            position: items.len(),
            order: items,
            seed,
            epochs_started: 0,
        }
    }

    /// The `n` smallest items (all when fewer), ascending: the data set's first images.
    pub fn first(&self, n: usize) -> Vec<u32> {
        let mut items = self.order.clone();
        items.sort_unstable();
        items.truncate(n);
        items
    }

    /// Items an epoch draws from.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether it draws from nothing.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn shuffle_epoch(&mut self, epoch: usize) {
        self.order.sort_unstable();
        let mut rng = SmallRng::seed_from_u64(derive_seed(self.seed, epoch as u64));
        self.order.shuffle(&mut rng);
    }

    /// Where the sampler stands.
    pub fn position(&self) -> SamplerPosition {
        SamplerPosition {
            epochs_started: self.epochs_started,
            position: self.position,
        }
    }

    /// Puts the sampler where `position` says, as if it had drawn up to there.
    pub fn restore(&mut self, at: SamplerPosition) {
        self.epochs_started = at.epochs_started;
        if at.epochs_started == 0 {
            self.order.sort_unstable();
            self.position = self.order.len();
        } else {
            self.shuffle_epoch(at.epochs_started - 1);
            self.position = at.position.min(self.order.len());
        }
    }

    /// The next `n` indices (`n` is clamped to the data set size).
    pub fn next_indices(&mut self, n: usize) -> &[u32] {
        let n = n.min(self.order.len());
        if self.position + n > self.order.len() {
            self.shuffle_epoch(self.epochs_started);
            self.position = 0;
            self.epochs_started += 1;
        }
        let start = self.position;
        self.position += n;
        &self.order[start..self.position]
    }

    /// How many epochs have been started so far.
    pub fn epochs_started(&self) -> usize {
        self.epochs_started
    }

    /// The epoch the last drawn indices belong to, counted from 0.
    pub fn epoch(&self) -> usize {
        self.epochs_started.saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_epoch_is_a_permutation_without_replacement() {
        let mut sampler = BatchSampler::new(10, 7);
        let mut seen: Vec<u32> = Vec::new();
        for _ in 0..5 {
            seen.extend_from_slice(sampler.next_indices(2));
        }
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_eq!(sampler.epochs_started(), 1);
    }

    #[test]
    fn epochs_are_reshuffled_and_seeded() {
        let mut a = BatchSampler::new(100, 1);
        let first: Vec<u32> = a.next_indices(100).to_vec();
        let second: Vec<u32> = a.next_indices(100).to_vec();
        assert_ne!(first, second, "a new epoch must reshuffle");
        let mut b = BatchSampler::new(100, 1);
        assert_eq!(b.next_indices(100), &first[..], "same seed, same order");
        let mut c = BatchSampler::new(100, 2);
        assert_ne!(c.next_indices(100), &first[..]);
    }

    #[test]
    fn a_sampler_over_some_items_never_draws_another() {
        let items: Vec<u32> = (0..100).filter(|i| i % 3 != 0).collect();
        let mut s = BatchSampler::over(items.clone(), 4);
        for _ in 0..50 {
            for i in s.next_indices(16) {
                assert!(items.contains(i), "drew held-out item {i}");
            }
        }
        let mut full = BatchSampler::new(100, 4);
        let mut same = BatchSampler::over((0..100).collect(), 4);
        assert_eq!(full.next_indices(30), same.next_indices(30));
    }

    #[test]
    fn a_restored_sampler_draws_what_the_original_would() {
        let mut a = BatchSampler::new(50, 3);
        for _ in 0..7 {
            a.next_indices(16);
        }
        let mut b = BatchSampler::new(50, 3);
        b.restore(a.position());
        for _ in 0..10 {
            assert_eq!(a.next_indices(16), b.next_indices(16));
        }
    }
}
