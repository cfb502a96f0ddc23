//! Where the data set comes from: `--data`, `GRADBOARD_DATA`, or the user's cache folder.

use std::path::{Path, PathBuf};

/// Environment variable naming the archive or folder to use.
pub const DATA_ENV: &str = "GRADBOARD_DATA";

/// The file name of the official archive in the cache folder.
const ARCHIVE_NAME: &str = "cifar-10-binary.tar.gz";

/// Where the data will be read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// A path the user gave (flag or environment): used as it is.
    Given(PathBuf),
    /// The archive in the cache folder, already downloaded.
    Cached(PathBuf),
    /// The cache folder has no archive yet: download it to this path first.
    Download(PathBuf),
}

impl DataSource {
    /// The path the data is (or will be) read from.
    pub fn path(&self) -> &Path {
        match self {
            DataSource::Given(p) | DataSource::Cached(p) | DataSource::Download(p) => p,
        }
    }
}

/// The archive's place in the user's cache folder (`$XDG_CACHE_HOME/gradboard/` on Linux).
pub fn cache_archive_path() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("gradboard")
        .join(ARCHIVE_NAME)
}

/// Resolves the data path: the flag, else `GRADBOARD_DATA`, else the cache folder.
pub fn resolve_data_path(flag: Option<&Path>) -> DataSource {
    if let Some(path) = flag {
        return DataSource::Given(path.to_path_buf());
    }
    if let Some(env) = std::env::var_os(DATA_ENV).filter(|v| !v.is_empty()) {
        return DataSource::Given(PathBuf::from(env));
    }
    let cached = cache_archive_path();
    if cached.exists() {
        DataSource::Cached(cached)
    } else {
        DataSource::Download(cached)
    }
}
