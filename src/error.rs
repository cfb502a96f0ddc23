//! The engine's error type: every failure is one line that says what and where.

use std::path::PathBuf;

/// Any failure of the engine, printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data file is missing, truncated, malformed or fails its checksum.
    #[error("{path}: {what}")]
    Data { path: PathBuf, what: String },
    /// Downloading the data set failed.
    #[error("download of {url} failed: {what}")]
    Download { url: String, what: String },
    /// A configuration key or value is not acceptable.
    #[error("{0}")]
    Config(String),
    /// A preset name or file could not be found or read.
    #[error("{0}")]
    Preset(String),
    /// A tensor operation failed (candle's message, first line only: no backtrace).
    #[error("tensor error: {}", first_line(.0))]
    Tensor(#[from] candle_core::Error),
    /// Reading or writing the run store failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Anything else, already phrased as one line.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// A data error about `path`.
    pub fn data(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        Error::Data {
            path: path.into(),
            what: what.into(),
        }
    }

    /// An I/O error about `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// The engine's result type.
pub type Result<T> = std::result::Result<T, Error>;

fn first_line(e: &candle_core::Error) -> String {
    let text = e.to_string();
    text.lines().next().unwrap_or_default().to_string()
}
