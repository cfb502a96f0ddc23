//! CIFAR-10: reading the official binary layout, downloading it, preprocessing, augmentation
//! and batching.

pub mod augment;
mod batches;
mod download;
mod holdout;
mod reader;
mod source;
pub mod synthetic;

pub use batches::{derive_seed, Batch, BatchSampler, SamplerPosition};
pub use download::{
    download, md5_file, stall_timeout, Progress, OFFICIAL_MD5, OFFICIAL_URL, TIMEOUT_ENV,
};
pub use holdout::Holdout;
pub use reader::{read_cifar, BatchFileReport};
pub use source::{cache_archive_path, resolve_data_path, DataSource, DATA_ENV};

use std::path::PathBuf;

/// Bytes of one image: 3 channels of 32x32, channel-major (red, green, blue planes).
pub const IMAGE_BYTES: usize = 3 * 32 * 32;
/// Bytes of one record: the label byte, then the image.
pub const RECORD_BYTES: usize = IMAGE_BYTES + 1;
/// Records in each file of the official release.
pub const OFFICIAL_RECORDS_PER_FILE: usize = 10_000;
/// Folder inside the official archive.
pub const BATCH_DIR: &str = "cifar-10-batches-bin";
/// The five training files, in order.
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// The test file.
pub const TEST_FILE: &str = "test_batch.bin";
/// The ten class names, by label.
pub const CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// One split of the data set, kept as the raw records of its batch files (label byte, then
/// the image channel-major), so that loading never holds two copies of the pixels.
#[derive(Debug, Clone, Default)]
pub struct Split {
    files: Vec<Vec<u8>>,
    /// Index of the first image of each file, and the total at the end.
    starts: Vec<usize>,
    labels: Vec<u8>,
}

impl Split {
    /// Appends the records of one validated batch file.
    pub(crate) fn push_file(&mut self, records: Vec<u8>) {
        if self.starts.is_empty() {
            self.starts.push(0);
        }
        self.labels
            .extend(records.chunks_exact(RECORD_BYTES).map(|r| r[0]));
        self.starts.push(self.labels.len());
        self.files.push(records);
    }

    /// Builds a split from images and labels (tests and tools).
    pub fn from_images(images: &[u8], labels: &[u8]) -> Self {
        let mut records = Vec::with_capacity(labels.len() * RECORD_BYTES);
        for (image, &label) in images.chunks_exact(IMAGE_BYTES).zip(labels) {
            records.push(label);
            records.extend_from_slice(image);
        }
        let mut split = Split::default();
        split.push_file(records);
        split
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Labels 0..9, one per image.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let file = self.starts.partition_point(|&s| s <= i) - 1;
        let offset = (i - self.starts[file]) * RECORD_BYTES + 1;
        &self.files[file][offset..offset + IMAGE_BYTES]
    }

    /// The images `indices`, in that order, as a split of their own (a copy).
    pub fn subset(&self, indices: &[u32]) -> Split {
        let mut records = Vec::with_capacity(indices.len() * RECORD_BYTES);
        for &i in indices {
            records.push(self.labels[i as usize]);
            records.extend_from_slice(self.image(i as usize));
        }
        let mut split = Split::default();
        split.push_file(records);
        split
    }

    /// Every image in order.
    pub fn images(&self) -> impl Iterator<Item = &[u8]> {
        self.files
            .iter()
            .flat_map(|f| f.chunks_exact(RECORD_BYTES).map(|r| &r[1..]))
    }
}

/// CIFAR-10 in memory, with the training set's mean image for preprocessing.
#[derive(Debug, Clone)]
pub struct Cifar10 {
    /// The 50,000 training images (fewer in small test sets).
    pub train: Split,
    /// The 10,000 test images.
    pub test: Split,
    /// Mean training image on the 0..255 scale, per pixel and channel.
    pub mean: Vec<f32>,
    /// Where the data came from.
    pub source: PathBuf,
    /// What was found in each batch file.
    pub files: Vec<BatchFileReport>,
}

impl Cifar10 {
    /// Reads and validates the archive or folder at `path`.
    pub fn load(path: &std::path::Path) -> crate::Result<Self> {
        let (train, test, files) = read_cifar(path)?;
        let mean = mean_image(&train);
        Ok(Cifar10 {
            train,
            test,
            mean,
            source: path.to_path_buf(),
            files,
        })
    }

    /// Images `indices` of `split` with the lab's preprocessing: f32 on the 0..255 scale minus
    /// the mean training image, one row of `IMAGE_BYTES` values per image.
    pub fn preprocess(&self, split: &Split, indices: &[u32]) -> Vec<f32> {
        use rayon::prelude::*;
        // Every row is written whole only when the mean and each image hold IMAGE_BYTES
        // values: both are checked, since `mean` and the splits are open to callers.
        assert_eq!(self.mean.len(), IMAGE_BYTES, "the mean image's size");
        let len = indices.len() * IMAGE_BYTES;
        let mut out: Vec<f32> = Vec::with_capacity(len);
        out.spare_capacity_mut()[..len]
            .par_chunks_exact_mut(IMAGE_BYTES)
            .zip(indices)
            .with_min_len(32)
            .for_each(|(row, &i)| {
                let image = split.image(i as usize);
                assert_eq!(image.len(), IMAGE_BYTES, "image {i}'s size");
                for ((o, &p), &m) in row.iter_mut().zip(image).zip(&self.mean) {
                    o.write(p as f32 - m);
                }
            });
        // SAFETY: the loop above wrote all `len` values, one whole row of IMAGE_BYTES per
        // index (the asserts hold each row's length; a panic leaves `out` empty).
        unsafe { out.set_len(len) };
        out
    }

    /// A training batch: training images `indices` preprocessed and augmented with `kind`
    /// (drawn from `seeds`), and their labels, which augmentation never changes.
    pub fn training_batch(
        &self,
        indices: &[u32],
        kind: crate::config::Augment,
        seeds: augment::Seeds,
    ) -> (Vec<f32>, Vec<u8>) {
        let mut rows = self.preprocess(&self.train, indices);
        augment::augment(&mut rows, kind, indices, seeds);
        let labels = indices
            .iter()
            .map(|&i| self.train.labels()[i as usize])
            .collect();
        (rows, labels)
    }
}

/// Mean image of a split (exact: summed in integers, divided once).
pub fn mean_image(split: &Split) -> Vec<f32> {
    let mut sum = vec![0u64; IMAGE_BYTES];
    for image in split.images() {
        for (s, &p) in sum.iter_mut().zip(image) {
            *s += p as u64;
        }
    }
    let n = split.len().max(1) as f64;
    sum.iter().map(|&s| (s as f64 / n) as f32).collect()
}
