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
    /// A tensor operation failed (candle's message, first line only: no backtrace, and not a
    /// cause behind the line that a printed chain would repeat).
    #[error("tensor error: {}", first_line(.0))]
    Tensor(candle_core::Error),
    /// Reading or writing a file failed. The OS error is part of the one line, not a cause
    /// behind it (a printed chain would repeat it).
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
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
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error,
        }
    }
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Tensor(e)
    }
}

/// The engine's result type.
pub type Result<T> = std::result::Result<T, Error>;

fn first_line(e: &candle_core::Error) -> String {
    let text = e.to_string();
    text.lines().next().unwrap_or_default().to_string()
}
