//! Files on disk, below everything that writes them: the names of a run folder's files, writes
//! that a reader sees whole or not at all, opening run files without following links, and
//! clearing what a killed writer left behind.

use crate::{Error, Result};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The configuration the run started with.
pub const CONFIG_FILE: &str = "config.toml";
/// Events, one JSON line each.
pub const EVENTS_FILE: &str = "events.jsonl";
/// The final `done` event with the run's figures.
pub const SUMMARY_FILE: &str = "summary.json";
/// Trained weights.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// Held locked by the process that trains the run.
pub const LOCK_FILE: &str = "run.lock";

/// The marker in the names of temporary files (`.NAME.tmp-PID-N.EXT`).
const TEMPORARY: &str = ".tmp-";

/// Writes `path` by letting `write` fill a temporary file beside it, then renaming it into
/// place: readers see the old file or the whole new one. The rename replaces a link at `path`
/// rather than writing through it.
pub fn write_atomically(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // The temporary keeps the extension: some writers pick the format by it.
    let stem = path.file_stem().and_then(|n| n.to_str()).unwrap_or("file");
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| format!(".{e}"))
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(
        ".{stem}{TEMPORARY}{}-{}{ext}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result =
        write(&tmp).and_then(|_| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `write_atomically` for text.
pub fn write_text_atomically(path: &Path, text: &str) -> Result<()> {
    write_atomically(path, |tmp| {
        std::fs::write(tmp, text).map_err(|e| Error::io(tmp, e))
    })
}

/// Opens `path` to append to it, creating it if needed; a link there is refused, so a run's
/// events never go to a file outside its folder.
pub fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| link_error(path, e))
}

/// Opens `path` to read it; a link there is refused.
pub fn open_read(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| link_error(path, e))
}

/// Opens (creating) `path` to write it in place without truncating; a link is refused.
pub fn open_write(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| link_error(path, e))
}

fn link_error(path: &Path, e: std::io::Error) -> Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        Error::Other(format!(
            "{}: is a symbolic link; a run's files must be inside its folder",
            path.display()
        ))
    } else {
        Error::io(path, e)
    }
}

/// Ends the file at `path` with a newline if its last line was cut short (a kill or a full
/// disk mid-write), so the next line appended starts a line of its own.
pub fn end_torn_line(path: &Path) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut file = match OpenOptions::new()
        .read(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(link_error(path, e)),
    };
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))
        .and_then(|_| file.read_exact(&mut last))
        .map_err(|e| Error::io(path, e))?;
    if last[0] != b'\n' {
        file.write_all(b"\n").map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

/// Removes the temporary files a killed writer left in `dir` (`write_atomically`'s). Call it
/// only while holding the folder's lock, when no other process writes there.
pub fn remove_temporaries(dir: &Path) -> Vec<String> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.')
            && name.contains(TEMPORARY)
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed.push(name);
        }
    }
    removed
}

/// Removes the temporaries `write_atomically` left for `path` whose writer process is gone
/// (killed before its rename), where no lock keeps other writers out: those of a live
/// process are being written and stay.
pub fn remove_dead_temporaries(path: &Path) {
    let (Some(dir), Some(stem)) = (path.parent(), path.file_stem()) else {
        return;
    };
    let prefix = format!(".{}{TEMPORARY}", stem.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        // A killed process not yet reaped is a zombie: gone as a writer.
        let alive = pid.is_some_and(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| stat.rsplit(')').next().map(|s| s.trim_start().to_string()))
                .is_some_and(|state| !state.starts_with('Z'))
        });
        if !alive {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Makes folder `path` and its parents; when a part of it is a file, the error names that
/// part ("is a file, not a folder") instead of the system's "File exists".
pub fn create_folder(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| {
        let file = path
            .ancestors()
            .find(|a| a.exists() && !a.is_dir())
            .map(Path::to_path_buf);
        match file {
            Some(f) => Error::data(f, "is a file, not a folder"),
            None => Error::io(path, e),
        }
    })
}

/// Whether `path` is a regular file or a folder (a FIFO, a device or a socket would block or
/// make no sense as data); the error says what it is.
pub fn check_readable_kind(path: &Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let t = meta.file_type();
    let what = if t.is_fifo() {
        "a named pipe (FIFO)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        return Ok(());
    };
    Err(Error::data(
        path,
        format!(
            "is {what}, not a file or folder; give the .tar.gz archive or the extracted folder"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_writers_temporary_goes_and_a_live_ones_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.gbdata");
        let dead = dir
            .path()
            .join(format!(".key{TEMPORARY}4000000000-0.gbdata"));
        let live = dir
            .path()
            .join(format!(".key{TEMPORARY}{}-0.gbdata", std::process::id()));
        std::fs::write(&dead, b"half").unwrap();
        std::fs::write(&live, b"being written").unwrap();
        remove_dead_temporaries(&path);
        assert!(!dead.exists() && live.exists());
    }

    #[test]
    fn a_torn_line_is_ended_and_a_whole_one_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"b\"").unwrap();
        end_torn_line(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"b\"\n"
        );
        end_torn_line(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"b\"\n"
        );
        end_torn_line(&dir.path().join("none")).unwrap();
    }

    #[test]
    fn links_are_refused_and_temporaries_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.txt");
        std::fs::write(&outside, "x").unwrap();
        let link = dir.path().join(EVENTS_FILE);
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let e = open_append(&link).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        assert!(open_read(&link).is_err());
        std::fs::write(
            dir.path().join(".checkpoint-last.tmp-12-0.safetensors"),
            "x",
        )
        .unwrap();
        let removed = remove_temporaries(dir.path());
        assert_eq!(removed, vec![".checkpoint-last.tmp-12-0.safetensors"]);
        assert!(outside.is_file());
    }
}
