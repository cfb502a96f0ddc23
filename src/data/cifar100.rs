//! CIFAR-100's binary version: `train.bin` and `test.bin` of `<coarse><fine><3072 px>`
//! records, and the label names in `fine_label_names.txt` / `coarse_label_names.txt` (the
//! official archive's `cifar-100-binary/` folder, or a folder holding the files).

use super::detect::Decoded;
use super::reader::{BatchFileReport, Files};
use super::{Split, IMAGE_BYTES};
use crate::config::Label;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Folder inside the official archive.
pub const FOLDER: &str = "cifar-100-binary";
/// Bytes of one record: the two label bytes, then the image.
pub const RECORD: usize = IMAGE_BYTES + 2;
const TRAIN: &str = "train.bin";
const TEST: &str = "test.bin";
const FINE_NAMES: &str = "fine_label_names.txt";
const COARSE_NAMES: &str = "coarse_label_names.txt";

/// CIFAR-100's files.
pub fn wanted(name: &str) -> bool {
    [TRAIN, TEST, FINE_NAMES, COARSE_NAMES].contains(&name)
}

/// The folder holding `train.bin` and `test.bin` at or under `path`, if any.
pub fn folder(path: &Path) -> Option<PathBuf> {
    [path.join(FOLDER), path.to_path_buf()]
        .into_iter()
        .find(|d| d.join(TRAIN).is_file() && d.join(TEST).is_file())
}

/// Reads CIFAR-100's files from a folder.
pub fn read_folder(dir: &Path) -> Result<Files> {
    let mut files = Files::new();
    for name in [TRAIN, TEST, FINE_NAMES, COARSE_NAMES] {
        let file = dir.join(name);
        if !file.is_file() {
            continue;
        }
        crate::files::check_readable_kind(&file)?;
        let bytes = std::fs::read(&file).map_err(|e| Error::data(&file, e.to_string()))?;
        files.insert(name.to_string(), (file, bytes));
    }
    Ok(files)
}

/// The splits with the labels `label` picks, and the class names.
pub fn decode(path: &Path, mut files: Files, label: Label) -> Result<Decoded> {
    let classes = match label {
        Label::Fine => 100,
        Label::Coarse => 20,
    };
    let mut splits = Vec::new();
    let mut reports = Vec::new();
    for name in [TRAIN, TEST] {
        let (origin, bytes) = files
            .remove(name)
            .ok_or_else(|| Error::data(path, format!("missing file {name} (CIFAR-100)")))?;
        let (split, report) = records(&origin, name, &bytes, label)?;
        splits.push(split);
        reports.push(report);
    }
    let names_file = match label {
        Label::Fine => FINE_NAMES,
        Label::Coarse => COARSE_NAMES,
    };
    let class_names = match files.get(names_file) {
        Some((origin, bytes)) => {
            let names: Vec<String> = String::from_utf8_lossy(bytes)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            if names.len() != classes {
                return Err(Error::data(
                    origin,
                    format!("{} names, {classes} expected", names.len()),
                ));
            }
            names
        }
        None => (0..classes).map(|c| format!("class {c}")).collect(),
    };
    let test = splits.pop().expect("two splits");
    let train = splits.pop().expect("two splits");
    Ok(Decoded {
        train,
        test,
        files: reports,
        dims: (3, 32, 32),
        class_names,
    })
}

/// One file's records as a split of the chosen labels, checked: whole records, labels in
/// range.
fn records(
    origin: &Path,
    name: &str,
    bytes: &[u8],
    label: Label,
) -> Result<(Split, BatchFileReport)> {
    if bytes.is_empty() {
        return Err(Error::data(origin, "empty file"));
    }
    if !bytes.len().is_multiple_of(RECORD) {
        return Err(Error::data(
            origin,
            format!(
                "truncated or wrong size: {} bytes is not a whole number of {RECORD}-byte CIFAR-100 records",
                bytes.len()
            ),
        ));
    }
    let (classes, at) = match label {
        Label::Fine => (100usize, 1),
        Label::Coarse => (20, 0),
    };
    let n = bytes.len() / RECORD;
    let mut out = Vec::with_capacity(n * (IMAGE_BYTES + 1));
    let mut per_class = vec![0usize; classes];
    for (i, r) in bytes.chunks_exact(RECORD).enumerate() {
        if r[0] >= 20 || r[1] >= 100 {
            return Err(Error::data(
                origin,
                format!(
                    "label out of range: record {i} has coarse {} and fine {} (expected 0..19 and 0..99)",
                    r[0], r[1]
                ),
            ));
        }
        let l = r[at];
        per_class[l as usize] += 1;
        out.push(l);
        out.extend_from_slice(&r[2..]);
    }
    let mut split = Split::empty(IMAGE_BYTES);
    split.push_file(out);
    let report = BatchFileReport {
        name: name.to_string(),
        records: n,
        per_class,
    };
    Ok((split, report))
}
