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
/// whole batch (the lab's `DataSet.next_batch`; the tail of an epoch is skipped).
#[derive(Debug, Clone)]
pub struct BatchSampler {
    order: Vec<u32>,
    position: usize,
    rng: SmallRng,
    epochs_started: usize,
}

impl BatchSampler {
    /// A sampler over `len` items seeded with `seed`.
    pub fn new(len: usize, seed: u64) -> Self {
        BatchSampler {
            order: (0..len as u32).collect(),
            position: len,
            rng: SmallRng::seed_from_u64(seed),
            epochs_started: 0,
        }
    }

    /// The next `n` indices (`n` is clamped to the data set size).
    pub fn next_indices(&mut self, n: usize) -> &[u32] {
        let n = n.min(self.order.len());
        if self.position + n > self.order.len() {
            self.order.shuffle(&mut self.rng);
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
}
