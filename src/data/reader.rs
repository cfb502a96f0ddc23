//! Reads CIFAR-10's binary batch files from the official `.tar.gz` or an extracted folder,
//! validating every file.

use super::{Split, BATCH_DIR, OFFICIAL_RECORDS_PER_FILE, RECORD_BYTES, TEST_FILE, TRAIN_FILES};
use crate::{Error, Result};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What one batch file held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFileReport {
    /// File name, e.g. `data_batch_1.bin`.
    pub name: String,
    /// Number of records.
    pub records: usize,
    /// Images per class, by label.
    pub per_class: Vec<usize>,
}

/// Reads the training and test splits from an archive or folder, checking sizes and labels.
pub fn read_cifar(path: &Path) -> Result<(Split, Split, Vec<BatchFileReport>)> {
    if !path.exists() {
        return Err(Error::data(path, "no such file or folder"));
    }
    crate::files::check_readable_kind(path)?;
    let files = if path.is_dir() {
        read_folder(path)?
    } else {
        read_archive(path, &wanted)?
    };
    cifar10_from(path, files)
}

/// CIFAR-10's splits from its batch files (read from `path`).
pub(crate) fn cifar10_from(
    path: &Path,
    mut files: Files,
) -> Result<(Split, Split, Vec<BatchFileReport>)> {
    let mut train = Split::default();
    let mut test = Split::default();
    let mut reports = Vec::new();
    for name in TRAIN_FILES.iter().chain([&TEST_FILE]) {
        let (origin, bytes) = files
            .remove(*name)
            .ok_or_else(|| Error::data(path, format!("missing file {BATCH_DIR}/{name}")))?;
        let target = if *name == TEST_FILE {
            &mut test
        } else {
            &mut train
        };
        reports.push(check_records(&origin, name, &bytes)?);
        target.push_file(bytes);
    }
    Ok((train, test, reports))
}

/// Validates one batch file's bytes: whole records, labels 0..9.
fn check_records(origin: &Path, name: &str, bytes: &[u8]) -> Result<BatchFileReport> {
    if bytes.is_empty() {
        return Err(Error::data(origin, "empty file"));
    }
    if !bytes.len().is_multiple_of(RECORD_BYTES) {
        return Err(Error::data(
            origin,
            format!(
                "truncated or wrong size: {} bytes is not a whole number of {RECORD_BYTES}-byte records",
                bytes.len()
            ),
        ));
    }
    let records = bytes.len() / RECORD_BYTES;
    if records > OFFICIAL_RECORDS_PER_FILE {
        return Err(Error::data(
            origin,
            format!("wrong size: {records} records, at most {OFFICIAL_RECORDS_PER_FILE} expected"),
        ));
    }
    let mut per_class = vec![0usize; 10];
    for (i, record) in bytes.chunks_exact(RECORD_BYTES).enumerate() {
        let label = record[0];
        if label > 9 {
            return Err(Error::data(
                origin,
                format!("label out of range: record {i} has label {label}, expected 0..9"),
            ));
        }
        per_class[label as usize] += 1;
    }
    Ok(BatchFileReport {
        name: name.to_string(),
        records,
        per_class,
    })
}

/// Files by name: where each came from and its bytes.
pub(crate) type Files = HashMap<String, (PathBuf, Vec<u8>)>;

/// CIFAR-10's batch files.
pub(crate) fn wanted(name: &str) -> bool {
    TRAIN_FILES.contains(&name) || name == TEST_FILE
}

/// Reads the batch files of an extracted folder (the `cifar-10-batches-bin` folder or its parent).
fn read_folder(path: &Path) -> Result<Files> {
    let dir = if path.join(BATCH_DIR).is_dir() {
        path.join(BATCH_DIR)
    } else {
        path.to_path_buf()
    };
    let mut files = Files::new();
    for name in TRAIN_FILES.iter().chain([&TEST_FILE]) {
        let file = dir.join(name);
        if !file.exists() {
            return Err(Error::data(&dir, format!("missing file {name}")));
        }
        crate::files::check_readable_kind(&file)?;
        let bytes = std::fs::read(&file).map_err(|e| Error::data(&file, e.to_string()))?;
        files.insert(name.to_string(), (file, bytes));
    }
    Ok(files)
}

/// Reads the files `wanted` names out of a gzip-compressed tar archive.
pub(crate) fn read_archive(path: &Path, wanted: &dyn Fn(&str) -> bool) -> Result<Files> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::data(path, e.to_string()))?;
    let mut magic = [0u8; 2];
    let got = file
        .read(&mut magic)
        .map_err(|e| Error::data(path, e.to_string()))?;
    if got < 2 || magic != [0x1f, 0x8b] {
        return Err(Error::data(
            path,
            "not a gzip file (expected the .tar.gz archive or the extracted folder)",
        ));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::data(path, e.to_string()))?;
    let gz = flate2::read::GzDecoder::new(std::io::BufReader::with_capacity(1 << 20, file));
    let mut archive = tar::Archive::new(gz);
    let corrupt =
        |e: std::io::Error| Error::data(path, format!("corrupt or truncated archive: {e}"));
    let mut files = Files::new();
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let entry_path = entry.path().map_err(corrupt)?.into_owned();
        let Some(name) = entry_path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if !wanted(&name) {
            continue;
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes).map_err(corrupt)?;
        files.insert(name, (path.join(&entry_path), bytes));
    }
    if files.is_empty() {
        return Err(Error::data(
            path,
            format!("no data files in this archive (expected CIFAR-10's {BATCH_DIR}/*.bin or CIFAR-100's train.bin and test.bin)"),
        ));
    }
    Ok(files)
}
