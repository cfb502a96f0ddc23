//! Image folders decoded once: the decoded, resized images are kept in a prepared file
//! (`$XDG_CACHE_HOME/gradboard/prepared/<key>.gbdata`) that later runs memory-map instead of
//! decoding again. The key is the md5 of the folder's path, every image file's path, size
//! and modification time, and the data settings, so a changed file or setting prepares anew.
//! The file is written to a temporary name and renamed (`files::write_atomically`): a killed
//! preparation leaves nothing half-written, and its temporary goes at the next read of the
//! same folder and settings.
//!
//! Layout: `GBDATA01`, the header's length (u64 little-endian), the header (JSON: shape,
//! class names, image counts), then the training records and the test records (a label byte,
//! then the image, channel-major).

use super::detect::{DataOptions, Decoded};
use super::folder::{self, Layout, Progress};
use super::{Bytes, Split};
use crate::{Error, Result};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MAGIC: &[u8; 8] = b"GBDATA01";

#[derive(Serialize, Deserialize)]
struct Header {
    dims: (usize, usize, usize),
    class_names: Vec<String>,
    train: usize,
    test: usize,
}

/// The folder prepared files go in.
pub fn cache_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("gradboard")
        .join("prepared")
}

/// The prepared file of `root` read with `options`: its path names the key.
fn key(root: &Path, layout: &Layout, options: &DataOptions) -> Result<String> {
    let mut h = Md5::new();
    let root = root
        .canonicalize()
        .map_err(|e| Error::data(root, e.to_string()))?;
    h.update(format!("v1\n{}\n{options:?}\n", root.display()));
    for (part, files) in [("train", &layout.train), ("test", &layout.test)] {
        h.update(part);
        for (label, path) in files {
            let meta = std::fs::metadata(path).map_err(|e| Error::data(path, e.to_string()))?;
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            h.update(format!(
                "{label}\t{}\t{}\t{modified}\n",
                path.display(),
                meta.len()
            ));
        }
    }
    Ok(format!("{:x}", h.finalize()))
}

/// The image folder at `root`: mapped from its prepared file when there is one for these
/// files and settings, else decoded (telling `progress`) and prepared for the next time.
/// The path of the prepared file comes back with the images (`None` when it could not be
/// written: the images are used from memory, and the reason is logged).
pub(crate) fn load(
    root: &Path,
    options: &DataOptions,
    progress: Progress,
) -> Result<(Decoded, Option<PathBuf>)> {
    let layout = folder::layout(root, options)?;
    let path = cache_dir().join(format!("{}.gbdata", key(root, &layout, options)?));
    crate::files::remove_dead_temporaries(&path);
    if let Ok(decoded) = map(&path) {
        return Ok((decoded, Some(path)));
    }
    let dims = folder::shape(&layout, options)?;
    match write(&path, &layout, dims, progress) {
        Ok(()) => Ok((map(&path)?, Some(path))),
        // A bad image is the data's fault: said as it is.
        Err(e @ Error::Data { .. }) => Err(e),
        Err(e) => {
            tracing::warn!(
                "{}: not prepared ({e}); the images stay in memory",
                path.display()
            );
            Ok((folder::decode(root, layout, options, progress)?, None))
        }
    }
}

/// Decodes `layout`'s images straight into a mapped temporary file of their final size (a
/// folder larger than memory is paged out as it is written), then renames it to `path`.
fn write(
    path: &Path,
    layout: &Layout,
    dims: (usize, usize, usize),
    progress: Progress,
) -> Result<()> {
    let dir = path.parent().expect("a file in the cache folder");
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let header = serde_json::to_vec(&Header {
        dims,
        class_names: layout.names.clone(),
        train: layout.train.len(),
        test: layout.test.len(),
    })
    .map_err(|e| Error::Other(e.to_string()))?;
    let record = dims.0 * dims.1 * dims.2 + 1;
    let start = 16 + header.len();
    let len = start + (layout.train.len() + layout.test.len()) * record;
    if let Some(free) = free_disk(dir) {
        if len as u64 > free {
            return Err(Error::data(
                path,
                format!(
                    "the prepared images need {:.1} GB, more than the {:.1} GB free here: a smaller image_size, or room in the cache folder",
                    len as f64 / 1e9,
                    free as f64 / 1e9
                ),
            ));
        }
    }
    crate::files::write_atomically(path, |tmp| {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(tmp)
            .map_err(|e| Error::io(tmp, e))?;
        file.set_len(len as u64).map_err(|e| Error::io(tmp, e))?;
        // SAFETY: the temporary was created above under a name of this process's own and
        // nothing else maps or writes it until it is renamed.
        let mut map = unsafe { memmap2::MmapMut::map_mut(&file) }.map_err(|e| Error::io(tmp, e))?;
        map[..8].copy_from_slice(MAGIC);
        map[8..16].copy_from_slice(&(header.len() as u64).to_le_bytes());
        map[16..start].copy_from_slice(&header);
        folder::decode_records(layout, dims, &mut map[start..], progress)?;
        map.flush().map_err(|e| Error::io(tmp, e))
    })
}

/// Bytes free for this user on the file system of `dir`.
fn free_disk(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a NUL-terminated string and `stat` a struct statvfs to fill.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut stat) };
    (rc == 0).then(|| stat.f_bavail as u64 * stat.f_frsize as u64)
}

/// A prepared file's images, mapped; an error for a missing, foreign or cut file.
fn map(path: &Path) -> Result<Decoded> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY: prepared files are written once under a temporary name and renamed; nothing
    // writes to a prepared file in place, so the mapping does not change under the reader.
    let map = Arc::new(unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?);
    let bad = |why: &str| Error::data(path, format!("not a usable prepared file: {why}"));
    if map.len() < 16 || &map[..8] != MAGIC {
        return Err(bad("no header"));
    }
    let header_len = u64::from_le_bytes(map[8..16].try_into().expect("8 bytes")) as usize;
    let start = 16usize
        .checked_add(header_len)
        .filter(|&s| s <= map.len())
        .ok_or_else(|| bad("cut header"))?;
    let header: Header =
        serde_json::from_slice(&map[16..start]).map_err(|_| bad("unreadable header"))?;
    let (c, h, w) = header.dims;
    let record = c * h * w + 1;
    let train_end = start + header.train * record;
    if train_end + header.test * record != map.len() || header.train == 0 || header.test == 0 {
        return Err(bad("its size does not match its header"));
    }
    let split = |range: std::ops::Range<usize>| {
        let mut s = Split::empty(record - 1);
        s.push_bytes(Bytes::Mapped(map.clone(), range));
        s
    };
    Ok(Decoded {
        train: split(start..train_end),
        test: split(train_end..map.len()),
        files: Vec::new(),
        dims: header.dims,
        class_names: header.class_names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_foreign_or_cut_file_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.gbdata");
        std::fs::write(&p, b"GBDATA01\x05\0\0\0\0\0\0\0{}").unwrap();
        assert!(map(&p).is_err());
        std::fs::write(&p, b"something else").unwrap();
        assert!(map(&p).is_err());
    }
}
