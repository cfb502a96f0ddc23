//! Downloads the official archive with progress and md5 verification. The file is written
//! under a temporary name and renamed only once its checksum is right.

use crate::{Error, Result};
use md5::{Digest, Md5};
use std::io::{Read, Write};
use std::path::Path;

/// The official CIFAR-10 binary archive.
pub const OFFICIAL_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
/// Its md5 checksum.
pub const OFFICIAL_MD5: &str = "c32a1d4ab5d03f1284b67883e8d87530";

/// Download progress: bytes so far and the total when the server says it.
pub type Progress<'a> = &'a mut dyn FnMut(u64, Option<u64>);

/// Environment variable setting how many seconds a download may stall (default 30).
pub const TIMEOUT_ENV: &str = "GRADBOARD_DOWNLOAD_TIMEOUT";

/// The slowest a download may go, in bytes a second, averaged over each stall period: a
/// server that trickles a byte at a time never stalls a read but is given up on all the same.
pub const MIN_RATE: u64 = 1024;

/// How long connecting, or any one read once connected, may take before the download fails
/// (`GRADBOARD_DOWNLOAD_TIMEOUT`, whole seconds from 1 to 3600, else 30): a server that stalls
/// ends the download with a clear error instead of a hang. A value it does not take is an
/// error, as a bad `GRADBOARD_SIMD` is.
pub fn stall_timeout() -> Result<std::time::Duration> {
    let seconds = match std::env::var(TIMEOUT_ENV) {
        Err(_) => 30,
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|s| (1..=3600).contains(s))
            .ok_or_else(|| {
                Error::Config(format!(
                    "{TIMEOUT_ENV}={v}: a whole number of seconds from 1 to 3600 (or unset for 30)"
                ))
            })?,
    };
    Ok(std::time::Duration::from_secs(seconds))
}

/// Downloads `url` to `dest`, checking its md5 against `expected_md5` before the file takes
/// its final name. On any failure nothing is left at `dest`.
pub fn download(url: &str, expected_md5: &str, dest: &Path, progress: Progress) -> Result<()> {
    let fail = |what: String| Error::Download {
        url: url.to_string(),
        what,
    };
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        remove_dead_partials(dir, dest);
    }
    let partial = dest.with_file_name(format!(
        "{}.part-{}",
        dest.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("download"),
        std::process::id()
    ));
    let stall = stall_timeout()?;
    let result = fetch_to(url, &partial, stall, progress)
        .map_err(fail)
        .and_then(|digest| {
            if digest == expected_md5 {
                std::fs::rename(&partial, dest).map_err(|e| Error::io(dest, e))
            } else {
                Err(fail(format!(
                    "checksum mismatch: md5 {digest}, expected {expected_md5}"
                )))
            }
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Removes `.part-PID` files next to `dest` whose downloading process is gone (a kill or a
/// closed terminal mid-download), so they do not pile up in the cache.
fn remove_dead_partials(dir: &Path, dest: &Path) {
    let Some(name) = dest.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    let prefix = format!("{name}.part-");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file
            .strip_prefix(&prefix)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A failed request in words: a server that never answers, one that hangs up, anything else.
fn request_error(e: ureq::Error, stall: std::time::Duration) -> String {
    match e {
        ureq::Error::Timeout(_) => {
            format!("the server did not answer within {} s", stall.as_secs())
        }
        ureq::Error::Io(io) => read_error(&io, 0, stall),
        other => other.to_string(),
    }
}

/// A failed read of the body in words, after `done` bytes.
fn read_error(e: &std::io::Error, done: u64, stall: std::time::Duration) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        TimedOut | WouldBlock => format!(
            "stalled: no data for {} s after {done} bytes",
            stall.as_secs()
        ),
        ConnectionReset | ConnectionAborted | UnexpectedEof | BrokenPipe => {
            format!("the server closed the connection after {done} bytes")
        }
        _ => format!("connection lost after {done} bytes: {e}"),
    }
}

/// Streams the body of `url` into `path`, returning its md5 as hex. Fails when a read waits
/// longer than `stall` or a whole `stall` period brings less than `MIN_RATE` a second.
fn fetch_to(
    url: &str,
    path: &Path,
    stall: std::time::Duration,
    progress: Progress,
) -> std::result::Result<String, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(stall))
        .timeout_per_read(Some(stall))
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| request_error(e, stall))?;
    let total = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = response.into_body().into_reader();
    let mut file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut done = 0u64;
    let mut window = (std::time::Instant::now(), 0u64);
    progress(0, total);
    loop {
        let n = body.read(&mut buf).map_err(|e| {
            match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<ureq::Error>())
            {
                Some(ureq::Error::Timeout(_)) => read_error(
                    &std::io::Error::from(std::io::ErrorKind::TimedOut),
                    done,
                    stall,
                ),
                _ => read_error(&e, done, stall),
            }
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(|e| format!("{}: {e}", path.display()))?;
        done += n as u64;
        progress(done, total);
        let elapsed = window.0.elapsed();
        if elapsed >= stall {
            let rate = (done - window.1) as f64 / elapsed.as_secs_f64();
            if rate < MIN_RATE as f64 {
                return Err(format!(
                    "too slow: {:.0} bytes a second over the last {} s (under {MIN_RATE}), after {done} bytes",
                    rate,
                    elapsed.as_secs()
                ));
            }
            window = (std::time::Instant::now(), done);
        }
    }
    if let Some(total) = total {
        if done != total {
            return Err(format!("truncated: got {done} of {total} bytes"));
        }
    }
    file.sync_all()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(hex(&hasher.finalize()))
}

/// md5 of a file on disk, as hex.
pub fn md5_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
