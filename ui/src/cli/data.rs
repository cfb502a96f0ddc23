//! `gradboard data verify` (the data set loads; its files, counts and checksum) and
//! `gradboard data inspect PATH` (format, shape, classes, counts, leaks between the splits,
//! a sample grid).

use anyhow::Result;
use gradboard::config::RunConfig;
use gradboard::data::inspect::{inspect, write_grid};
use gradboard::data::{md5_file, Dataset, OFFICIAL_MD5};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `gradboard data` actions.
#[derive(Debug, clap::Subcommand)]
pub enum DataAction {
    /// Check the data set and print what it holds.
    Verify {
        /// The data set: an archive, a folder of CIFAR or idx files, or image folders.
        #[arg(long)]
        data: Option<PathBuf>,
        /// A data key (image_size, channels, label, test_split) the data is read with.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Decode an image folder once into its prepared file (mapped by every later run), so
    /// that the first run starts at once.
    Prepare {
        /// The image folder.
        path: PathBuf,
        /// A data key (image_size, channels, label, test_split) the data is read with, as the
        /// runs will read it.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// What a data set holds: format, shape, class names, images per class in each split,
    /// test images that are exact copies of training images, and a grid of samples a class.
    Inspect {
        /// The data set: an archive, a folder of CIFAR or idx files, or image folders.
        path: PathBuf,
        /// A data key (image_size, channels, label, test_split) the data is read with.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Write the sample grid (8 training images a class) to this PNG.
        #[arg(long, value_name = "FILE.png")]
        grid: Option<PathBuf>,
        /// One JSON object: format, shape, classes, train and test counts, duplicates.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a data action.
pub fn run(action: DataAction) -> Result<ExitCode> {
    match action {
        DataAction::Verify { data, sets } => verify(data.as_deref(), &sets),
        DataAction::Prepare { path, sets } => prepare(&path, &sets),
        DataAction::Inspect {
            path,
            sets,
            grid,
            json,
        } => inspect_data(&path, &sets, grid.as_deref(), json),
    }
}

/// The data settings `--set` gives (the rest of a run's keys are refused: they do not change
/// how data is read).
pub fn reading(sets: &[String]) -> Result<gradboard::data::DataOptions> {
    let mut config = RunConfig::default();
    for s in sets {
        let key = s.split_once('=').map_or(s.as_str(), |(k, _)| k).trim();
        if !DATA_KEYS.contains(&key) {
            anyhow::bail!("--set {s}: only the data keys image_size, channels, label and test_split change how data is read");
        }
        config.apply_override(s)?;
    }
    Ok(config.data_options())
}

/// The keys that say how a data set is read.
pub const DATA_KEYS: [&str; 4] = ["image_size", "channels", "label", "test_split"];

/// Prepares an image folder (or says that a binary format needs no preparing).
fn prepare(path: &Path, sets: &[String]) -> Result<ExitCode> {
    let data = crate::data_setup::load_data(path, &reading(sets)?)?;
    match &data.prepared {
        Some(file) => println!(
            "{}: {} + {} images of {}x{}x{} prepared in {} (mapped by every run that reads the folder with these settings)",
            path.display(),
            data.train.len(),
            data.test.len(),
            data.shape.channels,
            data.shape.height,
            data.shape.width,
            file.display()
        ),
        None => println!(
            "{}: {} is read as it is; nothing to prepare",
            path.display(),
            data.format.name()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads the data set and prints its files, counts per class and checksum.
pub fn verify(flag: Option<&Path>, sets: &[String]) -> Result<ExitCode> {
    let path = crate::data_setup::ensure_data(flag)?;
    let data = crate::data_setup::load_data(&path, &reading(sets)?)?;
    println!("data set: {} ({})", path.display(), data.format.name());
    if path.is_file() {
        let md5 = md5_file(&path)?;
        let note = if md5 == OFFICIAL_MD5 {
            "the official release"
        } else {
            "not the official CIFAR-10 release's checksum"
        };
        println!("md5: {md5} ({note})");
    }
    for f in &data.files {
        println!("  {:24} {:6} records", f.name, f.records);
    }
    println!(
        "train: {} images, test: {} images, each {}x{}x{}",
        data.train.len(),
        data.test.len(),
        data.shape.channels,
        data.shape.height,
        data.shape.width
    );
    let train = data.train.per_class(data.shape.classes);
    let test = data.test.per_class(data.shape.classes);
    let width = data
        .class_names
        .iter()
        .map(|n| n.len())
        .max()
        .unwrap_or(0)
        .max(11);
    for (i, name) in data.class_names.iter().enumerate() {
        println!(
            "  {i} {name:width$} train {:5}  test {:5}",
            train[i], test[i]
        );
    }
    let mean: f64 = data.mean.iter().map(|&m| m as f64).sum::<f64>() / data.mean.len() as f64;
    println!("mean pixel value: {mean:.2} (subtracted per pixel and channel)");
    println!("ok");
    Ok(ExitCode::SUCCESS)
}

/// `data inspect`: the report as text or JSON, the grid as a PNG when asked, and a grid of
/// samples (one row a class, drawn with half blocks) when the text goes to a terminal.
fn inspect_data(path: &Path, sets: &[String], grid: Option<&Path>, json: bool) -> Result<ExitCode> {
    let options = reading(sets)?;
    let data = match crate::data_setup::load_data(path, &options) {
        Ok(data) => data,
        Err(e) => {
            // An image folder with unreadable files: every one of them, not just the first.
            let bad = gradboard::data::folder::unreadable(path, &options).unwrap_or_default();
            if bad.len() < 2 {
                return Err(e);
            }
            if json {
                let list: Vec<String> = bad.iter().map(|(p, _)| p.display().to_string()).collect();
                println!("{}", serde_json::json!({ "unreadable": list }));
            } else {
                println!("{}: {} unreadable files:", path.display(), bad.len());
                for (_, why) in &bad {
                    println!("  {why}");
                }
            }
            return Ok(ExitCode::from(2));
        }
    };
    let report = inspect(&data);
    if let Some(file) = grid {
        write_grid(&data, 8, file)?;
    }
    if json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let [c, h, w] = report.shape;
    println!(
        "{}: {} ({c}x{h}x{w}, {} classes)",
        path.display(),
        report.format,
        report.classes.len()
    );
    println!(
        "train {} images, test {} images; {} test image(s) are exact copies of training images{}",
        report.train.n,
        report.test.n,
        report.duplicates,
        if report.duplicates > 0 {
            " (a leak: the test figures overstate)"
        } else {
            ""
        }
    );
    let width = report.classes.iter().map(|n| n.len()).max().unwrap_or(0);
    for (i, name) in report.classes.iter().enumerate() {
        println!(
            "  {i:3} {name:width$}  train {:6}  test {:6}",
            report.train.per_class[i], report.test.per_class[i]
        );
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        print!("{}", terminal_grid(&data, 6));
    }
    if let Some(file) = grid {
        println!("sample grid: {}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Up to 10 classes' first `per_class` training images in the terminal, each 16 columns wide,
/// drawn with upper half blocks (two pixel rows a line) in 24-bit colour.
fn terminal_grid(data: &Dataset, per_class: usize) -> String {
    let side = 16u32;
    let mut out = String::new();
    let rows = gradboard::data::inspect::thumbnails(data, per_class, side);
    for (class, images) in rows.iter().enumerate().take(10) {
        out.push_str(&format!("{}\n", data.class_names[class]));
        for y in (0..side).step_by(2) {
            for image in images {
                for x in 0..side {
                    let (t, b) = (image.get_pixel(x, y), image.get_pixel(x, y + 1));
                    out.push_str(&format!(
                        "\x1b[38;2;{};{};{}m\x1b[48;2;{};{};{}m▀",
                        t[0], t[1], t[2], b[0], b[1], b[2]
                    ));
                }
                out.push_str("\x1b[0m ");
            }
            out.push('\n');
        }
    }
    out
}
