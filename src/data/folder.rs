//! Image folders in torchvision's layout: `train/<class>/*` and `test/<class>/*` (or `val/`),
//! or one `<class>/*` tree whose `test_split` images (a fixed draw) are the test set. Classes
//! are the training folder's sorted sub-folder names; each class folder's files are read in
//! name order, decoded in parallel (every format the `image` crate reads here: PNG, JPEG, BMP,
//! WebP, GIF) and brought to one shape: `channels` (else the images' own, which must agree)
//! and `image_size` (else their own size, which must agree).

use super::detect::{DataOptions, Decoded};
use super::resample::to_planes;
use super::Split;
use crate::{Error, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The seed of a single tree's test draw: fixed, so every run of the folder tests on the same
/// images whatever its own seed.
const TEST_DRAW_SEED: u64 = 0x7e57;

/// One split's files: (class, path) in class then name order.
pub type Listing = Vec<(u8, PathBuf)>;

/// An image folder's files and classes, before any image is read.
pub struct Layout {
    /// The training files.
    pub train: Listing,
    /// The test files.
    pub test: Listing,
    /// The class names, by label.
    pub names: Vec<String>,
}

/// Reports images decoded so far and the total, from any thread.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// The class folders of `dir`, sorted by name (hidden entries skipped).
fn class_dirs(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::data(dir, e.to_string()))? {
        let entry = entry.map_err(|e| Error::data(dir, e.to_string()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            out.push((name, path));
        }
    }
    out.sort();
    Ok(out)
}

/// The files of a class folder in name order (hidden entries and sub-folders skipped).
fn class_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::data(dir, e.to_string()))? {
        let entry = entry.map_err(|e| Error::data(dir, e.to_string()))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if !path.is_dir() {
            out.push(path);
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(Error::data(dir, "empty class folder: no image files"));
    }
    Ok(out)
}

/// Every file of the class folders of `dir`, labelled by `names`' order; a class folder that
/// `names` lacks is an error.
fn listing(dir: &Path, names: &[String]) -> Result<Listing> {
    let mut out = Vec::new();
    for (name, path) in class_dirs(dir)? {
        let Some(label) = names.iter().position(|n| *n == name) else {
            return Err(Error::data(
                &path,
                "a test class that the training set lacks",
            ));
        };
        for file in class_files(&path)? {
            out.push((label as u8, file));
        }
    }
    Ok(out)
}

/// The layout at `root`: its training and test files and class names.
pub fn layout(root: &Path, options: &DataOptions) -> Result<Layout> {
    let train_dir = root.join("train");
    let test_dir = ["test", "val"]
        .iter()
        .map(|n| root.join(n))
        .find(|p| p.is_dir());
    let (tree, split) = match (train_dir.is_dir(), test_dir) {
        (true, Some(test)) => (train_dir, Some(test)),
        (true, None) => {
            return Err(Error::data(
                root,
                "a train/ folder without test/ or val/: add one, or make the class folders the top level and set test_split",
            ))
        }
        (false, _) => (root.to_path_buf(), None),
    };
    let classes = class_dirs(&tree)?;
    if classes.is_empty() {
        return Err(Error::data(
            &tree,
            "not a data set: no CIFAR or idx files and no class folders of images",
        ));
    }
    if classes.len() > 256 {
        return Err(Error::data(
            &tree,
            format!("{} class folders: at most 256 are supported", classes.len()),
        ));
    }
    let names: Vec<String> = classes.iter().map(|(n, _)| n.clone()).collect();
    let train = listing(&tree, &names)?;
    match split {
        Some(test) => {
            let test = listing(&test, &names)?;
            Ok(Layout { train, test, names })
        }
        None => {
            let n = options.test_split;
            if n == 0 || n >= train.len() {
                return Err(Error::data(
                    root,
                    format!(
                        "one class-folder tree of {} images: set test_split to the images to hold out as the test set (1..{})",
                        train.len(),
                        train.len().saturating_sub(1)
                    ),
                ));
            }
            let mut order: Vec<usize> = (0..train.len()).collect();
            order.shuffle(&mut rand::rngs::SmallRng::seed_from_u64(TEST_DRAW_SEED));
            let mut held: Vec<usize> = order[..n].to_vec();
            held.sort_unstable();
            let mut is_test = vec![false; train.len()];
            held.iter().for_each(|&i| is_test[i] = true);
            let (test, train): (Vec<_>, Vec<_>) = train
                .into_iter()
                .enumerate()
                .partition(|(i, _)| is_test[*i]);
            let strip = |v: Vec<(usize, (u8, PathBuf))>| v.into_iter().map(|(_, f)| f).collect();
            Ok(Layout {
                train: strip(train),
                test: strip(test),
                names,
            })
        }
    }
}

/// An image's own channels (1 for grey, else 3) and size, from its header.
struct Own {
    channels: usize,
    height: usize,
    width: usize,
}

/// Reads `path`'s header: its own channels and size, nothing decoded.
fn probe_file(path: &Path) -> Result<Own> {
    use image::ImageDecoder;
    let reader = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| Error::data(path, format!("unreadable: {e}")))?;
    let decoder = reader
        .into_decoder()
        .map_err(|e| Error::data(path, format!("not a readable image ({e})")))?;
    let (width, height) = decoder.dimensions();
    let channels = match decoder.color_type().channel_count() {
        1 | 2 => 1,
        _ => 3,
    };
    Ok(Own {
        channels,
        height: height as usize,
        width: width as usize,
    })
}

/// The files of the image folder at `root` whose header cannot be read, with why (every one,
/// where reading stops at the first): what `data inspect` lists.
pub fn unreadable(root: &Path, options: &DataOptions) -> Result<Vec<(PathBuf, String)>> {
    let layout = layout(root, options)?;
    Ok(files(&layout)
        .par_iter()
        .filter_map(|(_, path)| match probe_file(path) {
            Ok(_) => None,
            Err(e) => Some((path.clone(), e.to_string())),
        })
        .collect())
}

/// Every file of `layout`, training then test.
pub(crate) fn files(layout: &Layout) -> Vec<&(u8, PathBuf)> {
    layout.train.iter().chain(&layout.test).collect()
}

/// The shape (channels, height, width) the images of `layout` are brought to: `channels`
/// and `image_size` when set, else their own, which must agree (one line naming a file that
/// does not). Reads headers only, on every core.
pub(crate) fn shape(layout: &Layout, options: &DataOptions) -> Result<(usize, usize, usize)> {
    let all = files(layout);
    let own: Vec<Own> = all
        .par_iter()
        .map(|(_, path)| probe_file(path))
        .collect::<Result<_>>()?;
    let first = &own[0];
    let channels = match options.channels {
        Some(c) => c,
        None => {
            if let Some(i) = own.iter().position(|o| o.channels != first.channels) {
                return Err(Error::data(
                    &all[i].1,
                    format!(
                        "has {} channel(s), {} has {}: set channels = 1 or 3",
                        own[i].channels,
                        all[0].1.display(),
                        first.channels
                    ),
                ));
            }
            first.channels
        }
    };
    let (height, width) = match options.image_size {
        Some(s) => (s, s),
        None => {
            let odd = own
                .iter()
                .position(|o| (o.height, o.width) != (first.height, first.width));
            if let Some(i) = odd {
                return Err(Error::data(
                    &all[i].1,
                    format!(
                        "is {}x{}, {} is {}x{}: set image_size to resize them all",
                        own[i].width,
                        own[i].height,
                        all[0].1.display(),
                        first.width,
                        first.height
                    ),
                ));
            }
            (first.height, first.width)
        }
    };
    Ok((channels, height, width))
}

/// Decodes `path` and writes its record (the label, then the image brought to `dims`) into
/// `record`.
pub(crate) fn decode_record(
    (label, path): &(u8, PathBuf),
    dims: (usize, usize, usize),
    record: &mut [u8],
) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| Error::data(path, format!("unreadable: {e}")))?;
    let image = image::load_from_memory(&bytes)
        .map_err(|e| Error::data(path, format!("not a readable image ({e})")))?;
    record[0] = *label;
    record[1..].copy_from_slice(&to_planes(&image, dims));
    Ok(())
}

/// Decodes every file of `layout` into `records` (one record a file, in `files` order) on
/// every core, telling `progress`.
pub(crate) fn decode_records(
    layout: &Layout,
    dims: (usize, usize, usize),
    records: &mut [u8],
    progress: Progress,
) -> Result<()> {
    let all = files(layout);
    let record = dims.0 * dims.1 * dims.2 + 1;
    let done = std::sync::atomic::AtomicUsize::new(0);
    records
        .par_chunks_mut(record)
        .zip(all.par_iter())
        .try_for_each(|(out, file)| {
            decode_record(file, dims, out)?;
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if n.is_multiple_of(256) || n == all.len() {
                progress(n, all.len());
            }
            Ok(())
        })
}

/// The images of `layout` (the folder at `root`) decoded in memory, where no prepared file
/// can be written.
pub(crate) fn decode(
    root: &Path,
    layout: Layout,
    options: &DataOptions,
    progress: Progress,
) -> Result<Decoded> {
    let dims = shape(&layout, options)?;
    let record = dims.0 * dims.1 * dims.2 + 1;
    let n_train = layout.train.len();
    super::detect::fits_in_memory(root, (files(&layout).len() * record) as u64)?;
    let mut records = vec![0u8; files(&layout).len() * record];
    decode_records(&layout, dims, &mut records, progress)?;
    let test = records.split_off(n_train * record);
    let split = |bytes: Vec<u8>| {
        let mut s = Split::empty(record - 1);
        s.push_file(bytes);
        s
    };
    Ok(Decoded {
        train: split(records),
        test: split(test),
        files: Vec::new(),
        dims,
        class_names: layout.names,
    })
}
