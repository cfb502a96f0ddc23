//! Writes one run's folder as its events arrive, holding the folder's lock while it does.

use super::{new_run_id, write_text_atomically, CONFIG_FILE, EVENTS_FILE, LOCK_FILE, SUMMARY_FILE};
use crate::config::RunConfig;
use crate::events::{Event, EventKind, EventSink};
use crate::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The writer of one run folder. While it lives, the folder's lock is held: listings see the
/// run as `running`; once the process is gone they see it `crashed` unless it wrote `done`.
#[derive(Debug)]
pub struct RunWriter {
    run_id: String,
    dir: PathBuf,
    events: BufWriter<File>,
    _lock: File,
}

fn lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let file = crate::files::open_write(&path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(Error::Other(format!(
                "{}: the run is still training in another process",
                dir.display()
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
    }
    file.set_len(0).map_err(|e| Error::io(&path, e))?;
    (&file)
        .write_all(format!("{}\n", std::process::id()).as_bytes())
        .map_err(|e| Error::io(&path, e))?;
    Ok(file)
}

fn open_events(dir: &Path) -> Result<BufWriter<File>> {
    Ok(BufWriter::new(crate::files::open_append(
        &dir.join(EVENTS_FILE),
    )?))
}

impl RunWriter {
    /// Creates a new folder `runs_dir/<new id>/` exclusively (drawing another id if one by
    /// that name exists), locks it, and writes its config.toml and an empty events.jsonl.
    pub fn create(runs_dir: &Path, preset: &str, config: &RunConfig) -> Result<Self> {
        crate::files::create_folder(runs_dir)?;
        let (run_id, dir) = loop {
            let id = new_run_id(preset);
            let dir = runs_dir.join(&id);
            match std::fs::create_dir(&dir) {
                Ok(()) => break (id, dir),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(&dir, e)),
            }
        };
        // A folder whose start failed (a full disk, say) holds no run: it is removed rather
        // than left to be listed as crashed for ever.
        let made = lock(&dir).and_then(|lock| {
            write_text_atomically(&dir.join(CONFIG_FILE), &config.to_toml(None))?;
            Ok((lock, open_events(&dir)?))
        });
        match made {
            Ok((lock, events)) => Ok(RunWriter {
                run_id,
                events,
                dir,
                _lock: lock,
            }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// Opens an existing run folder to append to it (resume); fails while another process
    /// holds it. What a killed writer left is tidied first: a last line cut short is ended, so
    /// the next event starts a line of its own, and temporary files are removed.
    pub fn reopen(dir: &Path) -> Result<Self> {
        let lock = lock(dir)?;
        crate::files::end_torn_line(&dir.join(EVENTS_FILE))?;
        for name in crate::files::remove_temporaries(dir) {
            tracing::warn!("{}: removed {name}, left by a killed writer", dir.display());
        }
        let run_id = dir
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::Other(format!("{}: not a run folder", dir.display())))?
            .to_string();
        let _ = std::fs::remove_file(dir.join(SUMMARY_FILE));
        Ok(RunWriter {
            run_id,
            events: open_events(dir)?,
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    /// The run's id (its folder's name).
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The run folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl EventSink for RunWriter {
    fn emit(&mut self, event: &Event) -> Result<()> {
        let path = self.dir.join(EVENTS_FILE);
        writeln!(self.events, "{}", event.to_json())
            .and_then(|_| self.events.flush())
            .map_err(|e| Error::io(&path, e))?;
        if let EventKind::Done { .. } = event.kind {
            let text = serde_json::to_string_pretty(event).expect("events always serialise");
            write_text_atomically(&self.dir.join(SUMMARY_FILE), &(text + "\n"))?;
        }
        Ok(())
    }
}
