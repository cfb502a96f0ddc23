//! What a data set holds, for `gradboard data inspect`: its format, shape, class names,
//! per-class counts of each split, the test images that are exact copies of training images
//! (a leak between the splits), and a grid of samples per class.

use super::{Dataset, Split};
use crate::{Error, Result};
use serde::Serialize;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::Path;

/// One split's counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SplitCounts {
    /// Images.
    pub n: usize,
    /// Images per class, by label.
    pub per_class: Vec<usize>,
}

/// What `data inspect` reports (its `--json` form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inspection {
    /// `cifar-10`, `cifar-100`, `idx` or `image-folder`.
    pub format: String,
    /// [C, H, W].
    pub shape: [usize; 3],
    /// The class names, by label.
    pub classes: Vec<String>,
    /// The training split.
    pub train: SplitCounts,
    /// The test split.
    pub test: SplitCounts,
    /// Test images whose pixels equal a training image's.
    pub duplicates: usize,
}

fn digest(image: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    image.hash(&mut h);
    h.finish()
}

/// Test images that are exact copies of a training image (hashes compared, then bytes).
pub fn duplicates(train: &Split, test: &Split) -> usize {
    let mut seen: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, image) in train.images().enumerate() {
        seen.entry(digest(image)).or_default().push(i);
    }
    test.images()
        .filter(|image| {
            seen.get(&digest(image))
                .is_some_and(|c| c.iter().any(|&i| train.image(i) == *image))
        })
        .count()
}

/// The report on `data`.
pub fn inspect(data: &Dataset) -> Inspection {
    let classes = data.shape.classes;
    Inspection {
        format: data.format.name().to_string(),
        shape: data.shape.dims(),
        classes: data.class_names.clone(),
        train: SplitCounts {
            n: data.train.len(),
            per_class: data.train.per_class(classes),
        },
        test: SplitCounts {
            n: data.test.len(),
            per_class: data.test.per_class(classes),
        },
        duplicates: duplicates(&data.train, &data.test),
    }
}

/// The first `per_class` training images of each class: one row a class.
pub fn samples(data: &Dataset, per_class: usize) -> Vec<Vec<usize>> {
    let mut rows = vec![Vec::new(); data.shape.classes];
    for (i, &l) in data.train.labels().iter().enumerate() {
        if let Some(row) = rows.get_mut(l as usize) {
            if row.len() < per_class {
                row.push(i);
            }
        }
    }
    rows
}

/// The first `per_class` training images of each class as `side` x `side` RGB thumbnails, one
/// row a class: what `data inspect` and the dashboard's data picker draw in the terminal.
pub fn thumbnails(data: &Dataset, per_class: usize, side: u32) -> Vec<Vec<image::RgbImage>> {
    let dims = (data.shape.channels, data.shape.height, data.shape.width);
    samples(data, per_class)
        .iter()
        .map(|row| {
            row.iter()
                .map(|&i| {
                    super::resample::to_image(data.train.image(i), dims)
                        .resize_exact(side, side, image::imageops::FilterType::Triangle)
                        .to_rgb8()
                })
                .collect()
        })
        .collect()
}

/// Writes a PNG grid of `per_class` training images a class (one row a class, a 2-pixel gap),
/// written to a temporary name and renamed.
pub fn write_grid(data: &Dataset, per_class: usize, path: &Path) -> Result<()> {
    let (c, h, w) = (data.shape.channels, data.shape.height, data.shape.width);
    let gap = 2;
    let rows = samples(data, per_class);
    let (width, height) = (per_class * (w + gap) + gap, rows.len() * (h + gap) + gap);
    let mut canvas = image::RgbImage::from_pixel(width as u32, height as u32, image::Rgb([0; 3]));
    for (r, row) in rows.iter().enumerate() {
        for (k, &i) in row.iter().enumerate() {
            let planes = data.train.image(i);
            let rgb = super::resample::to_image(planes, (c, h, w)).to_rgb8();
            let (x0, y0) = (gap + k * (w + gap), gap + r * (h + gap));
            for (x, y, px) in rgb.enumerate_pixels() {
                canvas.put_pixel(x0 as u32 + x, y0 as u32 + y, *px);
            }
        }
    }
    crate::files::write_atomically(path, |tmp| {
        canvas
            .save_with_format(tmp, image::ImageFormat::Png)
            .map_err(|e| Error::io(tmp, std::io::Error::other(e.to_string())))
    })
}
