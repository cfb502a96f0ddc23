//! The data sets: CIFAR-10 (downloaded on first use), CIFAR-100, MNIST-style idx files and
//! image folders, told apart by their content (`detect`), held as u8 images of one shape;
//! preprocessing, augmentation and batching.

pub mod augment;
mod batches;
mod cifar100;
pub mod detect;
mod download;
pub mod folder;
mod holdout;
mod idx;
pub mod inspect;
pub mod prepared;
mod reader;
pub mod resample;
mod source;
pub mod synthetic;

pub use batches::{derive_seed, Batch, BatchSampler, SamplerPosition};
pub use detect::{DataFormat, DataOptions, Label};
pub use download::{
    download, md5_file, stall_timeout, Progress, OFFICIAL_MD5, OFFICIAL_URL, TIMEOUT_ENV,
};
pub use holdout::Holdout;
pub use reader::{read_cifar, BatchFileReport};
pub use source::{cache_archive_path, resolve_data_path, DataSource, DATA_ENV};

use std::path::PathBuf;

/// Bytes of one CIFAR image: 3 channels of 32x32, channel-major (red, green, blue planes).
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

/// What a network sees of a data set: its images' channels, height and width, and its class
/// count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataShape {
    /// Channels (1 or 3).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Classes.
    pub classes: usize,
}

impl DataShape {
    /// CIFAR-10's: 3 x 32 x 32, 10 classes (the lab's networks are written for it).
    pub const CIFAR10: DataShape = DataShape {
        channels: 3,
        height: 32,
        width: 32,
        classes: 10,
    };

    /// Values of one image.
    pub fn image_bytes(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// [C, H, W].
    pub fn dims(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }
}

/// Bytes a split's records live in: read into memory, or a range of a memory-mapped file
/// (a prepared image folder, paged in by the system as it is read).
#[derive(Clone)]
pub enum Bytes {
    /// In memory.
    Owned(Vec<u8>),
    /// A range of a mapped file.
    Mapped(std::sync::Arc<memmap2::Mmap>, std::ops::Range<usize>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Mapped(map, range) => &map[range.clone()],
        }
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bytes::Owned(v) => write!(f, "Owned({} bytes)", v.len()),
            Bytes::Mapped(_, r) => write!(f, "Mapped({r:?})"),
        }
    }
}

/// One split of the data set, kept as the raw records of its files (label byte, then the
/// image channel-major), so that loading never holds two copies of the pixels.
#[derive(Debug, Clone)]
pub struct Split {
    files: Vec<Bytes>,
    /// Index of the first image of each file, and the total at the end.
    starts: Vec<usize>,
    labels: Vec<u8>,
    /// Bytes of one image.
    image_bytes: usize,
}

impl Default for Split {
    fn default() -> Self {
        Split::empty(IMAGE_BYTES)
    }
}

impl Split {
    /// A split of no image whose images will hold `image_bytes` bytes.
    pub fn empty(image_bytes: usize) -> Self {
        Split {
            files: Vec::new(),
            starts: Vec::new(),
            labels: Vec::new(),
            image_bytes,
        }
    }

    /// Appends the records (label byte, then `image_bytes` pixels) of one validated file.
    pub(crate) fn push_file(&mut self, records: Vec<u8>) {
        self.push_bytes(Bytes::Owned(records));
    }

    /// Appends records held in `bytes` (in memory or mapped).
    pub(crate) fn push_bytes(&mut self, records: Bytes) {
        if self.starts.is_empty() {
            self.starts.push(0);
        }
        self.labels
            .extend(records.chunks_exact(self.image_bytes + 1).map(|r| r[0]));
        self.starts.push(self.labels.len());
        self.files.push(records);
    }

    /// Whether any of its records are memory-mapped.
    pub fn is_mapped(&self) -> bool {
        self.files.iter().any(|f| matches!(f, Bytes::Mapped(..)))
    }

    /// Builds a split of CIFAR-sized images from images and labels (tests and tools).
    pub fn from_images(images: &[u8], labels: &[u8]) -> Self {
        Self::from_sized(images, labels, IMAGE_BYTES)
    }

    /// Builds a split from images of `image_bytes` bytes each and their labels.
    pub fn from_sized(images: &[u8], labels: &[u8], image_bytes: usize) -> Self {
        let mut records = Vec::with_capacity(labels.len() * (image_bytes + 1));
        for (image, &label) in images.chunks_exact(image_bytes.max(1)).zip(labels) {
            records.push(label);
            records.extend_from_slice(image);
        }
        let mut split = Split::empty(image_bytes);
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

    /// Bytes of one image.
    pub fn image_bytes(&self) -> usize {
        self.image_bytes
    }

    /// Labels, one per image.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let file = self.starts.partition_point(|&s| s <= i) - 1;
        let offset = (i - self.starts[file]) * (self.image_bytes + 1) + 1;
        &self.files[file][offset..offset + self.image_bytes]
    }

    /// The images `indices`, in that order, as a split of their own (a copy).
    pub fn subset(&self, indices: &[u32]) -> Split {
        let mut records = Vec::with_capacity(indices.len() * (self.image_bytes + 1));
        for &i in indices {
            records.push(self.labels[i as usize]);
            records.extend_from_slice(self.image(i as usize));
        }
        let mut split = Split::empty(self.image_bytes);
        split.push_file(records);
        split
    }

    /// Every image in order.
    pub fn images(&self) -> impl Iterator<Item = &[u8]> {
        let record = self.image_bytes + 1;
        self.files
            .iter()
            .flat_map(move |f| f.chunks_exact(record).map(|r| &r[1..]))
    }

    /// Images per class, for `classes` classes.
    pub fn per_class(&self, classes: usize) -> Vec<usize> {
        let mut counts = vec![0usize; classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        counts
    }
}

/// A data set in memory: its splits as u8 images of one shape, its class names, and the
/// training set's mean image for preprocessing.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The training images.
    pub train: Split,
    /// The test images.
    pub test: Split,
    /// Mean training image on the 0..255 scale, per pixel and channel.
    pub mean: Vec<f32>,
    /// Where the data came from.
    pub source: PathBuf,
    /// What was found in each file of a binary format (CIFAR, idx).
    pub files: Vec<BatchFileReport>,
    /// Its images' shape and class count.
    pub shape: DataShape,
    /// The class names, by label.
    pub class_names: Vec<String>,
    /// The format it was read from.
    pub format: DataFormat,
    /// The settings it was read with (size, channels, label, test split).
    pub options: DataOptions,
    /// The prepared file an image folder's decoded images are mapped from.
    pub prepared: Option<PathBuf>,
}

impl Dataset {
    /// Reads and validates the data set at `path` with the default options (its own size and
    /// channels, CIFAR-100's fine labels).
    pub fn load(path: &std::path::Path) -> crate::Result<Self> {
        Self::load_with(path, &DataOptions::default())
    }

    /// Reads and validates the data set at `path`, told apart by its content, with `options`.
    pub fn load_with(path: &std::path::Path, options: &DataOptions) -> crate::Result<Self> {
        Self::load_with_progress(path, options, &|_, _| {})
    }

    /// `load_with`, telling `progress` (images done, total) as an image folder is decoded.
    pub fn load_with_progress(
        path: &std::path::Path,
        options: &DataOptions,
        progress: folder::Progress,
    ) -> crate::Result<Self> {
        let read = detect::read(path, options, progress)?;
        let mean = mean_image(&read.train);
        Ok(Dataset {
            train: read.train,
            test: read.test,
            mean,
            source: path.to_path_buf(),
            files: read.files,
            shape: read.shape,
            class_names: read.class_names,
            format: read.format,
            options: options.clone(),
            prepared: read.prepared,
        })
    }

    /// Values of one image.
    pub fn image_bytes(&self) -> usize {
        self.shape.image_bytes()
    }

    /// Images `indices` of `split` with the lab's preprocessing: f32 on the 0..255 scale minus
    /// the mean training image, one row of `image_bytes` values per image.
    pub fn preprocess(&self, split: &Split, indices: &[u32]) -> Vec<f32> {
        use rayon::prelude::*;
        let bytes = self.image_bytes();
        // Every row is written whole only when the mean and each image hold `bytes` values:
        // both are checked, since `mean` and the splits are open to callers.
        assert_eq!(self.mean.len(), bytes, "the mean image's size");
        let len = indices.len() * bytes;
        let mut out: Vec<f32> = Vec::with_capacity(len);
        out.spare_capacity_mut()[..len]
            .par_chunks_exact_mut(bytes.max(1))
            .zip(indices)
            .with_min_len(32)
            .for_each(|(row, &i)| {
                let image = split.image(i as usize);
                assert_eq!(image.len(), bytes, "image {i}'s size");
                for ((o, &p), &m) in row.iter_mut().zip(image).zip(&self.mean) {
                    o.write(p as f32 - m);
                }
            });
        // SAFETY: the loop above wrote all `len` values, one whole row of `bytes` per index
        // (the asserts hold each row's length; a panic leaves `out` empty).
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
        augment::augment(&mut rows, kind, indices, seeds, self.shape);
        let labels = indices
            .iter()
            .map(|&i| self.train.labels()[i as usize])
            .collect();
        (rows, labels)
    }
}

/// Mean image of a split (exact: summed in integers, divided once).
pub fn mean_image(split: &Split) -> Vec<f32> {
    let mut sum = vec![0u64; split.image_bytes()];
    for image in split.images() {
        for (s, &p) in sum.iter_mut().zip(image) {
            *s += p as u64;
        }
    }
    let n = split.len().max(1) as f64;
    sum.iter().map(|&s| (s as f64 / n) as f32).collect()
}
