//! Training-time augmentation of preprocessed images (rows of C x H x W values, channel-major):
//! a left-right mirror with probability 1/2 and, for `crop-flip`, a random H x W crop of the
//! image padded by 4 pixels of zeros (the mean image's colour, since the mean is subtracted);
//! `alt-flip` mirrors each image in every other epoch instead, starting mirrored or not by a
//! seeded coin of its own. Each image's draw comes from one seeded generator, in order, so a
//! batch's augmentation is the same on any thread count; the images are then changed in
//! parallel.

use super::batches::derive_seed;
use super::DataShape;
use crate::config::{Augment, Tta};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

/// Pixels of padding around an image before a random crop.
pub const PAD: usize = 4;

/// Pixels an image moves each way at most under `alt-flip-translate`.
pub const TRANSLATE: usize = 2;

/// What is done to one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Draw {
    /// Mirror left-right.
    pub flip: bool,
    /// Crop offset in the padded image, rows and columns, each 0 to 2 * PAD; (PAD, PAD) is the
    /// image itself.
    pub offset: (usize, usize),
}

impl Draw {
    /// The identity.
    pub const NONE: Draw = Draw {
        flip: false,
        offset: (PAD, PAD),
    };
}

/// What a training batch's augmentation is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seeds {
    /// The run's augmentation stream.
    pub run: u64,
    /// The step: random draws are the step's own.
    pub step: u64,
    /// The epoch the batch's images come from, counted from 0 (`alt-flip` follows it).
    pub epoch: usize,
}

/// One draw an image for the training images `indices` of a batch, from `seeds`.
pub fn draws(kind: Augment, indices: &[u32], seeds: Seeds) -> Vec<Draw> {
    let mut rng = SmallRng::seed_from_u64(derive_seed(seeds.run, seeds.step));
    indices
        .iter()
        .map(|&i| match kind {
            Augment::None => Draw::NONE,
            Augment::Flip => Draw {
                flip: rng.random_bool(0.5),
                ..Draw::NONE
            },
            Augment::AltFlip => Draw {
                flip: (derive_seed(seeds.run, u64::from(i)) ^ seeds.epoch as u64) & 1 == 1,
                ..Draw::NONE
            },
            Augment::AltFlipTranslate => {
                let mut shift = || rng.random_range(PAD - TRANSLATE..=PAD + TRANSLATE);
                let offset = (shift(), shift());
                Draw {
                    flip: (derive_seed(seeds.run, u64::from(i)) ^ seeds.epoch as u64) & 1 == 1,
                    offset,
                }
            }
            Augment::CropFlip => {
                let offset = (rng.random_range(0..=2 * PAD), rng.random_range(0..=2 * PAD));
                Draw {
                    flip: rng.random_bool(0.5),
                    offset,
                }
            }
        })
        .collect()
}

/// Applies `draw` to one image row of `(height, width)` planes: the crop, then the mirror.
pub fn apply(row: &mut [f32], draw: Draw, hw: (usize, usize)) {
    apply_with(row, draw, hw, &mut Vec::new());
}

/// `apply` with `plane` as the scratch a shift copies each plane to (kept by the caller across
/// images, so a batch allocates it once a thread, and a mirror alone never).
fn apply_with(row: &mut [f32], draw: Draw, (height, width): (usize, usize), plane: &mut Vec<f32>) {
    if draw == Draw::NONE || height == 0 || width == 0 {
        return;
    }
    let (dy, dx) = (
        draw.offset.0 as isize - PAD as isize,
        draw.offset.1 as isize - PAD as isize,
    );
    // Columns of the output that come from inside the image: [lo, hi).
    let lo = (-dx).clamp(0, width as isize) as usize;
    let hi = (width as isize - dx).clamp(0, width as isize) as usize;
    for out in row.chunks_exact_mut(height * width) {
        if dy != 0 || dx != 0 {
            plane.clear();
            plane.extend_from_slice(out);
            for (y, line) in out.chunks_exact_mut(width).enumerate() {
                let sy = y as isize + dy;
                if !(0..height as isize).contains(&sy) || lo >= hi {
                    line.fill(0.0);
                    continue;
                }
                let src = &plane[sy as usize * width..][..width];
                line[..lo].fill(0.0);
                line[hi..].fill(0.0);
                line[lo..hi].copy_from_slice(
                    &src[(lo as isize + dx) as usize..(hi as isize + dx) as usize],
                );
            }
        }
        if draw.flip {
            out.chunks_exact_mut(width).for_each(<[f32]>::reverse);
        }
    }
}

/// Augments the rows of training images `indices` (of `shape`) in place with `kind`, drawn
/// from `seeds`.
pub fn augment(rows: &mut [f32], kind: Augment, indices: &[u32], seeds: Seeds, shape: DataShape) {
    if kind == Augment::None {
        return;
    }
    let draws = draws(kind, indices, seeds);
    rows.par_chunks_exact_mut(shape.image_bytes().max(1))
        .zip(draws)
        .with_min_len(16)
        .for_each_init(Vec::new, |plane, (row, draw)| {
            apply_with(row, draw, (shape.height, shape.width), plane)
        });
}

/// The views test-time augmentation `tta` averages, each with its weight in the mean of the
/// logits (the weights sum to 1). `flip-shift` weighs the image and its mirror as much as the
/// four views moved one pixel up-left and down-right (mirrored or not) together.
pub fn tta_views(tta: Tta) -> Vec<(Draw, f64)> {
    let flip = |d: Draw| Draw { flip: true, ..d };
    let shift = |by: isize| Draw {
        flip: false,
        offset: ((PAD as isize + by) as usize, (PAD as isize + by) as usize),
    };
    match tta {
        Tta::None => vec![(Draw::NONE, 1.0)],
        Tta::Flip => vec![(Draw::NONE, 0.5), (flip(Draw::NONE), 0.5)],
        Tta::FlipShift => {
            let mut views = vec![(Draw::NONE, 0.25), (flip(Draw::NONE), 0.25)];
            for by in [-1, 1] {
                views.push((shift(by), 0.125));
                views.push((flip(shift(by)), 0.125));
            }
            views
        }
    }
}

/// A batch of image rows (of `shape`) with `draw` applied to each (a test-time view).
pub fn viewed(rows: &[f32], draw: Draw, shape: DataShape) -> Vec<f32> {
    let mut out = rows.to_vec();
    view_in_place(&mut out, draw, shape);
    out
}

/// Applies `draw` to each image row (of `shape`) of `rows`, in place (nothing for the
/// identity).
pub fn view_in_place(rows: &mut [f32], draw: Draw, shape: DataShape) {
    if draw == Draw::NONE {
        return;
    }
    rows.par_chunks_exact_mut(shape.image_bytes().max(1))
        .with_min_len(16)
        .for_each_init(Vec::new, |plane, row| {
            apply_with(row, draw, (shape.height, shape.width), plane)
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::IMAGE_BYTES;

    const SIDE: usize = 32;
    const HW: (usize, usize) = (SIDE, SIDE);

    fn image(seed: u64) -> Vec<f32> {
        let mut rng = SmallRng::seed_from_u64(seed);
        (0..IMAGE_BYTES)
            .map(|_| rng.random_range(-128.0..128.0))
            .collect()
    }

    fn at(row: &[f32], c: usize, y: usize, x: usize) -> f32 {
        row[c * SIDE * SIDE + y * SIDE + x]
    }

    #[test]
    fn a_flip_mirrors_each_line_and_twice_is_the_image() {
        let original = image(1);
        let mut row = original.clone();
        let flip = Draw {
            flip: true,
            ..Draw::NONE
        };
        apply(&mut row, flip, HW);
        for c in 0..3 {
            for y in [0, 7, 31] {
                for x in [0, 5, 31] {
                    assert_eq!(at(&row, c, y, x), at(&original, c, y, SIDE - 1 - x));
                }
            }
        }
        assert_eq!(viewed(&original, flip, DataShape::CIFAR10), row);
        apply(&mut row, flip, HW);
        assert_eq!(row, original);
    }

    #[test]
    fn a_crop_shifts_the_image_and_fills_the_border_with_zeros() {
        let original = image(2);
        let mut row = original.clone();
        // Offset (1, 7): rows shift by -3 (content moves down), columns by +3.
        apply(
            &mut row,
            Draw {
                flip: false,
                offset: (1, 7),
            },
            HW,
        );
        assert_eq!(row.len(), IMAGE_BYTES, "still 3x32x32");
        for c in 0..3 {
            for y in 0..SIDE {
                for x in 0..SIDE {
                    let (sy, sx) = (y as isize - 3, x as isize + 3);
                    let want = if (0..32).contains(&sy) && (0..32).contains(&sx) {
                        at(&original, c, sy as usize, sx as usize)
                    } else {
                        0.0
                    };
                    assert_eq!(at(&row, c, y, x), want, "c{c} y{y} x{x}");
                }
            }
        }
    }

    fn seeds(run: u64, step: u64, epoch: usize) -> Seeds {
        Seeds { run, step, epoch }
    }

    #[test]
    fn draws_are_seeded_and_stay_inside_the_padding() {
        let images: Vec<u32> = (0..500).collect();
        let draws = |kind, run, step| draws(kind, &images, seeds(run, step, 0));
        let a = draws(Augment::CropFlip, 7, 0);
        assert_eq!(a, draws(Augment::CropFlip, 7, 0));
        assert_ne!(a, draws(Augment::CropFlip, 8, 0));
        assert_ne!(a, draws(Augment::CropFlip, 7, 1), "each step draws anew");
        assert!(a
            .iter()
            .all(|d| d.offset.0 <= 2 * PAD && d.offset.1 <= 2 * PAD));
        let flips = a.iter().filter(|d| d.flip).count();
        assert!((200..300).contains(&flips), "{flips} of 500 flipped");
        let offsets: std::collections::HashSet<_> = a.iter().map(|d| d.offset).collect();
        assert_eq!(offsets.len(), 81, "every offset of the 9x9 is drawn");
        assert!(draws(Augment::Flip, 7, 0)
            .iter()
            .all(|d| d.offset == (PAD, PAD)));
        assert!(draws(Augment::None, 7, 0).iter().all(|d| *d == Draw::NONE));
    }

    /// airbench's augmentation: alt-flip's sides, and every move of up to 2 pixels each way,
    /// drawn anew each step.
    #[test]
    fn alt_flip_translate_moves_at_most_two_pixels_and_flips_as_alt_flip() {
        let images: Vec<u32> = (0..400).collect();
        let a = draws(Augment::AltFlipTranslate, &images, seeds(5, 9, 0));
        let offsets: std::collections::HashSet<_> = a.iter().map(|d| d.offset).collect();
        assert_eq!(offsets.len(), 25, "every move of the 5x5 is drawn");
        assert!(offsets
            .iter()
            .all(|&(y, x)| y.abs_diff(PAD) <= TRANSLATE && x.abs_diff(PAD) <= TRANSLATE));
        let sides = |d: &[Draw]| d.iter().map(|d| d.flip).collect::<Vec<_>>();
        assert_eq!(
            sides(&a),
            sides(&draws(Augment::AltFlip, &images, seeds(5, 9, 0)))
        );
        let next = draws(Augment::AltFlipTranslate, &images, seeds(5, 10, 0));
        assert_ne!(a, next, "each step moves anew");
        assert_eq!(sides(&a), sides(&next), "the side follows the epoch");
    }

    #[test]
    fn alt_flip_shows_each_image_both_ways_in_consecutive_epochs() {
        let images: Vec<u32> = (0..400).collect();
        let epoch = |e| draws(Augment::AltFlip, &images, seeds(5, 9, e));
        let first = epoch(0);
        let flipped = first.iter().filter(|d| d.flip).count();
        assert!(
            (150..250).contains(&flipped),
            "{flipped} of 400 start mirrored"
        );
        assert!(first.iter().all(|d| d.offset == (PAD, PAD)));
        for (a, b) in first.iter().zip(epoch(1)) {
            assert_ne!(a.flip, b.flip, "the next epoch shows the other side");
        }
        assert_eq!(epoch(2), first);
        // An image's side depends on its epoch, not on the step or its place in the batch.
        let reversed: Vec<u32> = images.iter().rev().copied().collect();
        let mut later = draws(Augment::AltFlip, &reversed, seeds(5, 77, 0));
        later.reverse();
        assert_eq!(later, first);
        assert_ne!(draws(Augment::AltFlip, &images, seeds(6, 9, 0)), first);
    }

    #[test]
    fn a_batch_is_augmented_the_same_way_every_time() {
        let batch: Vec<f32> = (0..5).flat_map(image).collect();
        let images = [4, 8, 15, 16, 23];
        let mut a = batch.clone();
        let mut b = batch.clone();
        augment(
            &mut a,
            Augment::CropFlip,
            &images,
            seeds(3, 1, 0),
            DataShape::CIFAR10,
        );
        augment(
            &mut b,
            Augment::CropFlip,
            &images,
            seeds(3, 1, 0),
            DataShape::CIFAR10,
        );
        assert_eq!(a, b);
        assert_ne!(a, batch);
        let mut none = batch.clone();
        augment(
            &mut none,
            Augment::None,
            &images,
            seeds(3, 1, 0),
            DataShape::CIFAR10,
        );
        assert_eq!(none, batch);
    }

    #[test]
    fn test_time_views_weigh_one_in_all_and_flip_shift_moves_one_pixel() {
        for tta in [Tta::None, Tta::Flip, Tta::FlipShift] {
            let total: f64 = tta_views(tta).iter().map(|(_, w)| w).sum();
            assert!((total - 1.0).abs() < 1e-12, "{tta:?}");
        }
        let views = tta_views(Tta::FlipShift);
        assert_eq!(views.len(), 6);
        assert_eq!(views[0], (Draw::NONE, 0.25));
        let original = image(4);
        let moved: Vec<Vec<f32>> = views
            .iter()
            .filter(|(d, _)| !d.flip && *d != Draw::NONE)
            .map(|(d, _)| viewed(&original, *d, DataShape::CIFAR10))
            .collect();
        assert_eq!(moved.len(), 2);
        // Pixel (y, x) shows the image's (y - 1, x - 1) (the image moved down-right), then
        // (y + 1, x + 1) (moved up-left).
        for (view, by) in moved.iter().zip([-1isize, 1]) {
            for c in 0..3 {
                for (y, x) in [(5usize, 9usize), (16, 16), (30, 1)] {
                    let (sy, sx) = ((y as isize + by) as usize, (x as isize + by) as usize);
                    assert_eq!(at(view, c, y, x), at(&original, c, sy, sx));
                }
            }
        }
        // The edge the image left is the mean colour (0 after preprocessing).
        assert_eq!(at(&moved[0], 0, 0, 7), 0.0);
        assert_eq!(at(&moved[1], 2, 31, 7), 0.0);
    }
}
