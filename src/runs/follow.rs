//! Following a run folder's events as another process appends them: each poll reads the new
//! complete lines (a line still being written waits for the next poll).

use super::reader::parse_events;
use super::EVENTS_FILE;
use crate::events::Event;
use crate::{Error, Result};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Where a follower stands in one events file.
#[derive(Debug, Clone)]
pub struct Follower {
    path: PathBuf,
    offset: u64,
}

impl Follower {
    /// A follower of `run_dir`'s events from the start.
    pub fn new(run_dir: &Path) -> Self {
        Follower {
            path: run_dir.join(EVENTS_FILE),
            offset: 0,
        }
    }

    /// The events appended since the last poll (whole lines only).
    pub fn poll(&mut self) -> Result<Vec<Event>> {
        let text = new_lines(&self.path, &mut self.offset)?;
        Ok(parse_events(&text).0)
    }
}

/// The whole lines appended to the file at `path` since `offset`, which moves past them (a
/// line still being written waits; a file that shrank is read again from its start).
pub fn new_lines(path: &Path, offset: &mut u64) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len < *offset {
        *offset = 0;
    }
    if len == *offset {
        return Ok(String::new());
    }
    file.seek(SeekFrom::Start(*offset))
        .map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::with_capacity((len - *offset) as usize);
    file.take(len - *offset)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    *offset += complete as u64;
    Ok(String::from_utf8_lossy(&bytes[..complete]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn whole_lines_are_read_once_and_a_partial_line_waits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(EVENTS_FILE);
        let line = |step: usize| {
            format!(
                r#"{{"event":"eval","step":{step},"epoch":0.1,"test_loss":1.0,"test_acc":0.5,"run_id":"r","time":1.0}}"#
            )
        };
        std::fs::write(&path, format!("{}\n{}", line(1), &line(2)[..20])).unwrap();
        let mut f = Follower::new(dir.path());
        assert_eq!(f.poll().unwrap().len(), 1);
        assert_eq!(f.poll().unwrap().len(), 0);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        write!(file, "{}\n{}\n", &line(2)[20..], line(3)).unwrap();
        let steps: Vec<usize> = f.poll().unwrap().iter().map(|e| e.step()).collect();
        assert_eq!(steps, vec![2, 3]);
    }
}
