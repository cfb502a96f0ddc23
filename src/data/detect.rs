//! Which format a data path holds, told apart by its content, and reading it into splits of
//! one shape with the run's data settings (`image_size`, `channels`, `label`, `test_split`).

use super::folder::Progress;
use super::reader::{self, BatchFileReport, Files};
use super::{cifar100, idx, resample, DataShape, Split, BATCH_DIR, CLASSES};
pub use crate::config::Label;
use crate::{Error, Result};
use std::path::Path;

/// The formats a data path can hold (`name` is how events and `data inspect` write them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    /// CIFAR-10's binary batches.
    Cifar10,
    /// CIFAR-100's binary `train.bin` / `test.bin`.
    Cifar100,
    /// MNIST-style idx files.
    Idx,
    /// Image files in class folders.
    ImageFolder,
}

impl DataFormat {
    /// Its name as events and `data inspect` write it.
    pub fn name(self) -> &'static str {
        match self {
            DataFormat::Cifar10 => "cifar-10",
            DataFormat::Cifar100 => "cifar-100",
            DataFormat::Idx => "idx",
            DataFormat::ImageFolder => "image-folder",
        }
    }
}

/// The settings a data set is read with (the run keys of the same names).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DataOptions {
    /// Side to resize the images to, `None` = their own size.
    pub image_size: Option<usize>,
    /// Channels to convert to (1 or 3), `None` = their own.
    pub channels: Option<usize>,
    /// CIFAR-100's labels.
    pub label: Label,
    /// Images held out as the test set of one class-folder tree.
    pub test_split: usize,
}

impl DataOptions {
    /// An error naming the first setting where `wanted` (a run's) differs from these (the data
    /// set's as read): the data set is read once for a session, a sweep or the dashboard.
    pub fn check_same(&self, wanted: &DataOptions) -> Result<()> {
        let text = |v: Option<usize>| v.map_or("own".to_string(), |v| v.to_string());
        let differs = [
            ("image_size", text(self.image_size), text(wanted.image_size)),
            ("channels", text(self.channels), text(wanted.channels)),
            (
                "label",
                crate::config::Choice::name(self.label).to_string(),
                crate::config::Choice::name(wanted.label).to_string(),
            ),
            (
                "test_split",
                self.test_split.to_string(),
                wanted.test_split.to_string(),
            ),
        ]
        .into_iter()
        .find(|(_, read, want)| read != want);
        match differs {
            None => Ok(()),
            Some((key, read, want)) => Err(Error::Config(format!(
                "{key} = {want}, but the data set was read with {key} = {read}: the data is read with its settings once (on the command line --set them; a sweep cannot vary them; in the dashboard D reads the data again)"
            ))),
        }
    }
}

impl Default for DataOptions {
    fn default() -> Self {
        DataOptions {
            image_size: None,
            channels: None,
            label: Label::Fine,
            test_split: 0,
        }
    }
}

/// A data set as read, before its mean image.
pub(crate) struct Read {
    pub train: Split,
    pub test: Split,
    pub files: Vec<BatchFileReport>,
    pub shape: DataShape,
    pub class_names: Vec<String>,
    pub format: DataFormat,
    pub prepared: Option<std::path::PathBuf>,
}

/// Images as a format gives them, before `image_size` and `channels` apply.
pub(crate) struct Decoded {
    pub train: Split,
    pub test: Split,
    pub files: Vec<BatchFileReport>,
    /// (channels, height, width) of every image.
    pub dims: (usize, usize, usize),
    pub class_names: Vec<String>,
}

/// CIFAR-100's and CIFAR-10's names inside an archive.
fn archive_wanted(name: &str) -> bool {
    reader::wanted(name) || cifar100::wanted(name)
}

/// Reads the data set at `path` with `options`, telling `progress` as images are decoded.
pub(crate) fn read(path: &Path, options: &DataOptions, progress: Progress) -> Result<Read> {
    if !path.exists() {
        return Err(Error::data(path, "no such file or folder"));
    }
    crate::files::check_readable_kind(path)?;
    let mut prepared = None;
    let (format, decoded) = if path.is_dir() {
        read_dir(path, options, progress, &mut prepared)?
    } else {
        let files = reader::read_archive(path, &archive_wanted)?;
        from_archive(path, files, options)?
    };
    let mut read = finish(path, format, decoded, options)?;
    read.prepared = prepared;
    Ok(read)
}

fn from_archive(path: &Path, files: Files, options: &DataOptions) -> Result<(DataFormat, Decoded)> {
    if files.keys().any(|n| reader::wanted(n)) {
        return Ok((DataFormat::Cifar10, cifar10(path, files)?));
    }
    Ok((
        DataFormat::Cifar100,
        cifar100::decode(path, files, options.label)?,
    ))
}

fn cifar10(path: &Path, files: Files) -> Result<Decoded> {
    let (train, test, files) = reader::cifar10_from(path, files)?;
    Ok(Decoded {
        train,
        test,
        files,
        dims: (3, 32, 32),
        class_names: CLASSES.iter().map(|c| c.to_string()).collect(),
    })
}

fn read_dir(
    path: &Path,
    options: &DataOptions,
    progress: Progress,
    prepared: &mut Option<std::path::PathBuf>,
) -> Result<(DataFormat, Decoded)> {
    let has = |name: &str| path.join(name).is_file();
    if path.join(BATCH_DIR).is_dir() || has(super::TRAIN_FILES[0]) {
        let (train, test, files) = reader::read_cifar(path)?;
        let decoded = Decoded {
            train,
            test,
            files,
            dims: (3, 32, 32),
            class_names: CLASSES.iter().map(|c| c.to_string()).collect(),
        };
        return Ok((DataFormat::Cifar10, decoded));
    }
    if let Some(dir) = cifar100::folder(path) {
        let files = cifar100::read_folder(&dir)?;
        return Ok((
            DataFormat::Cifar100,
            cifar100::decode(&dir, files, options.label)?,
        ));
    }
    if let Some(found) = idx::find(path) {
        return Ok((DataFormat::Idx, idx::decode(&found)?));
    }
    let (decoded, file) = super::prepared::load(path, options, progress)?;
    *prepared = file;
    Ok((DataFormat::ImageFolder, decoded))
}

/// An error naming `path` when `bytes` of images cannot be held in the memory this process
/// may use (the machine's, `ulimit -v`, the cgroup's).
pub(crate) fn fits_in_memory(path: &Path, bytes: u64) -> Result<()> {
    match crate::model::memory::available() {
        Some(free) if bytes > free => Err(Error::data(
            path,
            format!(
                "the images at this size need {:.1} GB, more than the {:.1} GB of memory available: a smaller image_size",
                bytes as f64 / 1e9,
                free as f64 / 1e9
            ),
        )),
        _ => Ok(()),
    }
}

/// Applies `image_size` and `channels` and checks what the format gave.
fn finish(path: &Path, format: DataFormat, d: Decoded, options: &DataOptions) -> Result<Read> {
    if d.train.is_empty() {
        return Err(Error::data(path, "no training images"));
    }
    if d.test.is_empty() {
        return Err(Error::data(path, "no test images"));
    }
    if d.class_names.len() > 256 {
        return Err(Error::data(
            path,
            format!("{} classes: at most 256 are supported", d.class_names.len()),
        ));
    }
    let (c, h, w) = d.dims;
    let to = (
        options.channels.unwrap_or(c),
        options.image_size.unwrap_or(h),
        options.image_size.unwrap_or(w),
    );
    let (train, test) = if to == d.dims {
        (d.train, d.test)
    } else {
        let bytes = (d.train.len() + d.test.len()) as u64 * (to.0 * to.1 * to.2 + 1) as u64;
        fits_in_memory(path, bytes)?;
        (
            resample::split(&d.train, d.dims, to),
            resample::split(&d.test, d.dims, to),
        )
    };
    Ok(Read {
        train,
        test,
        files: d.files,
        shape: DataShape {
            channels: to.0,
            height: to.1,
            width: to.2,
            classes: d.class_names.len(),
        },
        class_names: d.class_names,
        format,
        prepared: None,
    })
}
