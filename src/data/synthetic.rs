//! Small data sets in CIFAR-10's official binary layout, written by tests and demos: each
//! class has its own colour, so a network can learn them in a few steps.

use super::{BATCH_DIR, IMAGE_BYTES, TEST_FILE, TRAIN_FILES};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::path::Path;

/// Records of one batch file: `count` images with labels cycling 0..9.
pub fn records(count: usize, seed: u64) -> Vec<u8> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(count * (IMAGE_BYTES + 1));
    for i in 0..count {
        let label = (i % 10) as u8;
        out.push(label);
        for channel in 0..3 {
            let base = 40 + 20 * ((label as usize + channel * 3) % 10) as i32;
            for _ in 0..1024 {
                out.push((base + rng.random_range(-30..=30)).clamp(0, 255) as u8);
            }
        }
    }
    out
}

/// Every batch file's name and records: `per_train_file` images in each training file and
/// `test` in the test file.
pub fn files(per_train_file: usize, test: usize) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = TRAIN_FILES
        .iter()
        .enumerate()
        .map(|(i, name)| (name.to_string(), records(per_train_file, i as u64)))
        .collect();
    files.push((TEST_FILE.to_string(), records(test, 99)));
    files
}

/// Writes a `.tar.gz` with the official layout holding `files`.
pub fn write_archive(path: &Path, files: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    let gz =
        flate2::write::GzEncoder::new(std::fs::File::create(path)?, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("{BATCH_DIR}/{name}"), bytes.as_slice())?;
    }
    let meta = super::CLASSES.join("\n") + "\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(meta.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(
        &mut header,
        format!("{BATCH_DIR}/batches.meta.txt"),
        meta.as_bytes(),
    )?;
    tar.into_inner()?.finish()?.flush()
}

/// Writes the extracted layout: `dir/cifar-10-batches-bin/*.bin`.
pub fn write_folder(dir: &Path, files: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    let batches = dir.join(BATCH_DIR);
    std::fs::create_dir_all(&batches)?;
    for (name, bytes) in files {
        std::fs::write(batches.join(name), bytes)?;
    }
    Ok(())
}
