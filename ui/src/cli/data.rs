//! `gradboard data verify`: loads and validates the data set and reports what it holds.

use anyhow::Result;
use gradboard::data::{md5_file, Cifar10, CLASSES, OFFICIAL_MD5};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `gradboard data` actions.
#[derive(Debug, clap::Subcommand)]
pub enum DataAction {
    /// Check the data set and print what it holds.
    Verify {
        /// The data set: the .tar.gz archive or the extracted folder.
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

/// Runs a data action.
pub fn run(action: DataAction) -> Result<ExitCode> {
    match action {
        DataAction::Verify { data } => verify(data.as_deref()),
    }
}

/// Loads the data set and prints its files, counts per class and checksum.
pub fn verify(flag: Option<&Path>) -> Result<ExitCode> {
    let path = crate::data_setup::ensure_data(flag)?;
    let data = Cifar10::load(&path)?;
    println!("data set: {}", path.display());
    if path.is_file() {
        let md5 = md5_file(&path)?;
        let note = if md5 == OFFICIAL_MD5 {
            "the official release"
        } else {
            "not the official release's checksum"
        };
        println!("md5: {md5} ({note})");
    }
    for f in &data.files {
        println!("  {:18} {:6} records", f.name, f.records);
    }
    println!(
        "train: {} images, test: {} images",
        data.train.len(),
        data.test.len()
    );
    let mut train_counts = [0usize; 10];
    data.train
        .labels()
        .iter()
        .for_each(|&l| train_counts[l as usize] += 1);
    let mut test_counts = [0usize; 10];
    data.test
        .labels()
        .iter()
        .for_each(|&l| test_counts[l as usize] += 1);
    for (i, name) in CLASSES.iter().enumerate() {
        println!(
            "  {i} {name:11} train {:5}  test {:5}",
            train_counts[i], test_counts[i]
        );
    }
    let mean: f64 = data.mean.iter().map(|&m| m as f64).sum::<f64>() / data.mean.len() as f64;
    println!("mean pixel value: {mean:.2} (subtracted per pixel and channel)");
    println!("ok");
    Ok(ExitCode::SUCCESS)
}
