//! MNIST-style idx files (MNIST, Fashion-MNIST, KMNIST, EMNIST): `train-images-idx3-ubyte`,
//! `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each gzipped
//! (`.gz`) or not, under any prefix (EMNIST's `emnist-digits-`, with `test-` for `t10k-`).
//! Images are u8 (magic 0x00000803: n, rows, columns, big-endian), labels u8 (0x00000801: n). Classes are 0..max label, named by number.

use super::detect::Decoded;
use super::reader::BatchFileReport;
use super::Split;
use crate::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The four files of an idx data set.
#[derive(Debug, Clone)]
pub struct IdxFiles {
    train_images: PathBuf,
    train_labels: PathBuf,
    test_images: PathBuf,
    test_labels: PathBuf,
}

/// The idx files in `dir` when its training images are there: a file whose name holds
/// `train-images` and `idx3` (`train-images-idx3-ubyte`, `train-images.idx3-ubyte.gz`, EMNIST's
/// `emnist-letters-train-images-idx3-ubyte`), the others named alike (`train-labels` and
/// `idx1`; `t10k-` or `test-`), gzipped or not.
pub fn find(dir: &Path) -> Option<IdxFiles> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let train_images = names
        .iter()
        .find(|n| n.contains("train-images") && n.contains("idx3"))?
        .clone();
    // The first spelling present (as named, then gzipped or not), else the first as named.
    let sibling = |stems: &[&str], labels: bool| -> PathBuf {
        let named: Vec<String> = stems
            .iter()
            .map(|stem| {
                let name = train_images.replace("train-images", stem);
                if labels {
                    name.replace("idx3", "idx1")
                } else {
                    name
                }
            })
            .collect();
        let toggled = named.iter().map(|n| match n.strip_suffix(".gz") {
            Some(plain) => plain.to_string(),
            None => format!("{n}.gz"),
        });
        let all: Vec<String> = named.iter().cloned().chain(toggled).collect();
        let found = all.iter().find(|n| names.contains(n)).unwrap_or(&all[0]);
        dir.join(found)
    };
    Some(IdxFiles {
        train_images: dir.join(&train_images),
        train_labels: sibling(&["train-labels"], true),
        test_images: sibling(&["t10k-images", "test-images"], false),
        test_labels: sibling(&["t10k-labels", "test-labels"], true),
    })
}

/// A file's bytes, gunzipped when it is gzip.
fn read(path: &Path) -> Result<Vec<u8>> {
    if !path.is_file() {
        return Err(Error::data(path, "missing file (idx data sets have train-images, train-labels, t10k-images and t10k-labels)"));
    }
    crate::files::check_readable_kind(path)?;
    let bytes = std::fs::read(path).map_err(|e| Error::data(path, e.to_string()))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| Error::data(path, format!("corrupt or truncated gzip: {e}")))?;
        return Ok(out);
    }
    Ok(bytes)
}

fn be(b: &[u8]) -> usize {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
}

/// The images of an idx3 file: count, rows, columns, pixels.
fn images(path: &Path) -> Result<(usize, usize, usize, Vec<u8>)> {
    let bytes = read(path)?;
    if bytes.len() < 16 || bytes[..4] != [0, 0, 8, 3] {
        return Err(Error::data(
            path,
            "not an idx3 image file of u8 (magic 0x00000803)",
        ));
    }
    let (n, rows, cols) = (be(&bytes[4..]), be(&bytes[8..]), be(&bytes[12..]));
    let expected = n
        .checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .and_then(|v| v.checked_add(16));
    if expected != Some(bytes.len()) || rows == 0 || cols == 0 {
        return Err(Error::data(
            path,
            format!(
                "truncated or wrong size: the header says {n} images of {rows}x{cols} but the file holds {} bytes",
                bytes.len()
            ),
        ));
    }
    Ok((n, rows, cols, bytes[16..].to_vec()))
}

/// The labels of an idx1 file.
fn labels(path: &Path) -> Result<Vec<u8>> {
    let bytes = read(path)?;
    if bytes.len() < 8 || bytes[..4] != [0, 0, 8, 1] {
        return Err(Error::data(
            path,
            "not an idx1 label file of u8 (magic 0x00000801)",
        ));
    }
    let n = be(&bytes[4..]);
    if bytes.len() != n + 8 {
        return Err(Error::data(
            path,
            format!(
                "truncated or wrong size: the header says {n} labels but the file holds {} bytes",
                bytes.len()
            ),
        ));
    }
    Ok(bytes[8..].to_vec())
}

/// Both splits, their counts checked against each other.
pub fn decode(files: &IdxFiles) -> Result<Decoded> {
    let (n, rows, cols, train_px) = images(&files.train_images)?;
    let train_labels = labels(&files.train_labels)?;
    let (tn, trows, tcols, test_px) = images(&files.test_images)?;
    let test_labels = labels(&files.test_labels)?;
    if train_labels.len() != n {
        return Err(Error::data(
            &files.train_labels,
            format!("{} labels for {n} training images", train_labels.len()),
        ));
    }
    if test_labels.len() != tn {
        return Err(Error::data(
            &files.test_labels,
            format!("{} labels for {tn} test images", test_labels.len()),
        ));
    }
    if (trows, tcols) != (rows, cols) {
        return Err(Error::data(
            &files.test_images,
            format!("test images are {trows}x{tcols}, training images {rows}x{cols}"),
        ));
    }
    let classes = train_labels.iter().copied().max().unwrap_or(0) as usize + 1;
    if let Some(i) = test_labels.iter().position(|&l| l as usize >= classes) {
        return Err(Error::data(
            &files.test_labels,
            format!(
                "label out of range: test image {i} has label {}, the training set's classes are 0..{}",
                test_labels[i],
                classes - 1
            ),
        ));
    }
    let bytes = rows * cols;
    let report = |path: &Path, labels: &[u8]| {
        let mut per_class = vec![0usize; classes];
        labels.iter().for_each(|&l| per_class[l as usize] += 1);
        BatchFileReport {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            records: labels.len(),
            per_class,
        }
    };
    Ok(Decoded {
        files: vec![
            report(&files.train_images, &train_labels),
            report(&files.test_images, &test_labels),
        ],
        train: Split::from_sized(&train_px, &train_labels, bytes),
        test: Split::from_sized(&test_px, &test_labels, bytes),
        dims: (1, rows, cols),
        class_names: (0..classes).map(|c| c.to_string()).collect(),
    })
}
