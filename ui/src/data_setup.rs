//! Finding the data set for the command line, downloading it on first use with a progress bar.

use anyhow::Result;
use gradboard::data::{download, resolve_data_path, DataSource, OFFICIAL_MD5, OFFICIAL_URL};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

/// Environment variable that replaces the download address (mirrors, tests).
pub const URL_ENV: &str = "GRADBOARD_DATA_URL";
/// Environment variable that replaces the expected md5 (with `GRADBOARD_DATA_URL`).
pub const MD5_ENV: &str = "GRADBOARD_DATA_MD5";

/// The download address and checksum: the official ones unless the environment says otherwise.
pub fn download_source() -> (String, String) {
    let url = std::env::var(URL_ENV).unwrap_or_else(|_| OFFICIAL_URL.to_string());
    let md5 = std::env::var(MD5_ENV).unwrap_or_else(|_| OFFICIAL_MD5.to_string());
    (url, md5)
}

/// The path to read the data from, downloading the archive into the cache folder first when
/// nothing else is there.
pub fn ensure_data(flag: Option<&Path>) -> Result<PathBuf> {
    match resolve_data_path(flag) {
        DataSource::Given(p) | DataSource::Cached(p) => Ok(p),
        DataSource::Download(dest) => {
            let (url, md5) = download_source();
            eprintln!(
                "CIFAR-10 is not in {} yet: downloading {url}",
                dest.display()
            );
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                )
                .expect("valid template"),
            );
            let result = download(&url, &md5, &dest, &mut |done, total| {
                if let Some(t) = total {
                    bar.set_length(t);
                }
                bar.set_position(done);
            });
            bar.finish_and_clear();
            result.map_err(|e| {
                anyhow::anyhow!(
                    "{e} (set GRADBOARD_DATA or --data to a cifar-10-binary.tar.gz you already have)"
                )
            })?;
            eprintln!("saved and verified {}", dest.display());
            Ok(dest)
        }
    }
}

/// Reads the data set at `path` with `options`, with a progress bar on a terminal while an
/// image folder is decoded (the first time: later runs map the prepared images).
pub fn load_data(
    path: &Path,
    options: &gradboard::data::DataOptions,
) -> Result<gradboard::data::Dataset> {
    let bar: std::sync::OnceLock<ProgressBar> = std::sync::OnceLock::new();
    let data = gradboard::data::Dataset::load_with_progress(path, options, &|done, total| {
        let bar = bar.get_or_init(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("decoding images once {bar:40} {pos}/{len} ETA {eta}")
                    .expect("valid template"),
            );
            bar
        });
        bar.set_position(done as u64);
    });
    if let Some(bar) = bar.get() {
        bar.finish_and_clear();
    }
    Ok(data?)
}
