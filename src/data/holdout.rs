//! A validation split held out of the training images: `val_split` of them, drawn by the
//! run's seed, never drawn for a training batch and evaluated beside the test set, so that a
//! search can choose on them and report on the test set.

use super::{derive_seed, Split};
use crate::{Error, Result};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// The random stream of the run's seed that draws the held-out images.
const HOLDOUT_STREAM: u64 = 5;

/// The training images a run trains on and those it holds out, as indices into the training
/// split, each list ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct Holdout {
    train: Vec<u32>,
    val: Vec<u32>,
}

impl Holdout {
    /// Checks that holding `val_split` of `train_len` images out leaves at least a batch.
    pub fn check(train_len: usize, val_split: usize, batch_size: usize) -> Result<()> {
        let left = train_len.saturating_sub(val_split);
        if val_split > 0 && (val_split >= train_len || left < batch_size) {
            return Err(Error::Config(format!(
                "val_split: holding {val_split} of the {train_len} training images out leaves {left}, fewer than a batch of {batch_size}"
            )));
        }
        Ok(())
    }

    /// Holds `val_split` of `train_len` images out, drawn by `seed` (at most all but one).
    pub fn new(train_len: usize, val_split: usize, seed: u64) -> Self {
        let mut all: Vec<u32> = (0..train_len as u32).collect();
        let held = val_split.min(train_len.saturating_sub(1));
        if held == 0 {
            return Holdout {
                train: all,
                val: Vec::new(),
            };
        }
        let mut rng = SmallRng::seed_from_u64(derive_seed(seed, HOLDOUT_STREAM));
        let (val, train) = all.partial_shuffle(&mut rng, held);
        let (mut val, mut train) = (val.to_vec(), train.to_vec());
        val.sort_unstable();
        train.sort_unstable();
        Holdout { train, val }
    }

    /// The images training batches are drawn from.
    pub fn train(&self) -> &[u32] {
        &self.train
    }

    /// The held-out images (empty without a split).
    pub fn val(&self) -> &[u32] {
        &self.val
    }

    /// The held-out images as a split of their own, `None` without a split.
    pub fn val_split(&self, train: &Split) -> Option<Split> {
        (!self.val.is_empty()).then(|| train.subset(&self.val))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_parts_cover_the_training_set_once() {
        let h = Holdout::new(1000, 100, 7);
        assert_eq!(h.val().len(), 100);
        assert_eq!(h.train().len(), 900);
        let mut all: Vec<u32> = h.train().iter().chain(h.val()).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn the_seed_draws_the_held_out_images() {
        assert_eq!(Holdout::new(1000, 50, 1), Holdout::new(1000, 50, 1));
        assert_ne!(
            Holdout::new(1000, 50, 1).val(),
            Holdout::new(1000, 50, 2).val()
        );
        let none = Holdout::new(10, 0, 1);
        assert_eq!(none.train(), &(0..10).collect::<Vec<_>>()[..]);
        assert!(none.val().is_empty());
    }

    #[test]
    fn a_split_that_leaves_less_than_a_batch_is_refused() {
        assert!(Holdout::check(50_000, 5_000, 200).is_ok());
        assert!(Holdout::check(50_000, 0, 200).is_ok());
        let e = Holdout::check(1000, 900, 200).unwrap_err().to_string();
        assert!(e.contains("leaves 100, fewer than a batch of 200"), "{e}");
        assert!(Holdout::check(1000, 1000, 1).is_err());
    }
}
