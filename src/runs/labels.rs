//! What a user says about a run beside what it trained: a name, tags, a note and whether it is
//! archived (`labels.json` in its folder, written whole under a temporary name so a reader
//! never sees half of it), and deleting a run by moving its folder to the runs folder's
//! `.trash/` (nothing is lost by a slip; removing `.trash` frees the space).

use crate::files::write_text_atomically;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The labels file in a run folder.
pub const LABELS_FILE: &str = "labels.json";
/// Where deleted run folders go, under the runs folder.
pub const TRASH_DIR: &str = ".trash";
/// Characters a name, a tag or a note may hold at most.
const MAX_TEXT: usize = 2000;

/// A run's name, tags, note and archived mark.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunLabels {
    /// Its name (shown in place of its id where there is room).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its tags.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub tags: BTreeSet<String>,
    /// A note about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Whether it is hidden from listings unless asked for.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub archived: bool,
}

impl RunLabels {
    /// Whether nothing is said.
    pub fn is_empty(&self) -> bool {
        *self == RunLabels::default()
    }

    /// The labels of the run in `dir`; none when the file is missing or unreadable.
    pub fn read(dir: &Path) -> Self {
        crate::files::open_read(&dir.join(LABELS_FILE))
            .ok()
            .and_then(|f| serde_json::from_reader(std::io::BufReader::new(f)).ok())
            .unwrap_or_default()
    }

    /// Writes them into `dir` (the file removed when nothing is said).
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(LABELS_FILE);
        if self.is_empty() {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&path, e)),
                _ => Ok(()),
            };
        }
        let text = serde_json::to_string_pretty(self).expect("labels serialize");
        write_text_atomically(&path, &text)
    }

    /// Applies one edit, checked: a name or note of one line and bounded length, tags
    /// without spaces.
    pub fn edit(&mut self, edit: &LabelEdit) -> Result<()> {
        let text = |what: &str, t: &str| -> Result<Option<String>> {
            let t = t.trim();
            if t.chars().count() > MAX_TEXT || t.contains('\n') {
                return Err(Error::Config(format!(
                    "{what}: one line of at most {MAX_TEXT} characters"
                )));
            }
            Ok(Some(t.to_string()).filter(|t| !t.is_empty()))
        };
        match edit {
            LabelEdit::Name(n) => self.name = text("name", n)?,
            LabelEdit::Note(n) => self.note = text("note", n)?,
            LabelEdit::Tags { add, remove } => {
                for tag in add.iter().chain(remove) {
                    if tag.is_empty()
                        || tag.chars().any(char::is_whitespace)
                        || tag.chars().count() > 64
                    {
                        return Err(Error::Config(format!(
                            "tag {tag:?}: a word of 1 to 64 characters without spaces"
                        )));
                    }
                }
                self.tags.extend(add.iter().cloned());
                for tag in remove {
                    self.tags.remove(tag);
                }
            }
            LabelEdit::Archived(a) => self.archived = *a,
        }
        Ok(())
    }

    /// The tags as one word list: `baseline lr-study`.
    pub fn tags_text(&self) -> String {
        self.tags.iter().cloned().collect::<Vec<_>>().join(" ")
    }
}

/// One change to a run's labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelEdit {
    /// Names it (empty: no name).
    Name(String),
    /// Notes it (empty: no note).
    Note(String),
    /// Adds and removes tags.
    Tags {
        /// Tags to add.
        add: Vec<String>,
        /// Tags to remove.
        remove: Vec<String>,
    },
    /// Archives it or brings it back.
    Archived(bool),
}

impl LabelEdit {
    /// Tag words as a user types them: `baseline -old +new` (a leading `-` removes).
    pub fn tags_from_words(text: &str) -> Self {
        let words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
        Self::tags_from_list(&words)
    }

    /// Tags one an item (a leading `-` removes), as the command line gives them.
    pub fn tags_from_list(words: &[String]) -> Self {
        let (mut add, mut remove) = (Vec::new(), Vec::new());
        for word in words {
            match word.strip_prefix('-') {
                Some(t) => remove.push(t.to_string()),
                None => add.push(word.trim_start_matches('+').to_string()),
            }
        }
        LabelEdit::Tags { add, remove }
    }
}

/// Applies `edit` to the run in `dir` and writes its labels; the new labels.
pub fn edit_labels(dir: &Path, edit: &LabelEdit) -> Result<RunLabels> {
    if !dir.join(crate::files::EVENTS_FILE).is_file() {
        return Err(Error::Other(format!("{}: not a run folder", dir.display())));
    }
    let mut labels = RunLabels::read(dir);
    labels.edit(edit)?;
    labels.write(dir)?;
    Ok(labels)
}

/// Deletes the run in `dir` by moving its folder to `.trash/` beside it; a run still training
/// or one of a sweep is refused. Where it went.
pub fn trash_run(dir: &Path) -> Result<PathBuf> {
    if !dir.join(crate::files::EVENTS_FILE).is_file() {
        return Err(Error::Other(format!("{}: not a run folder", dir.display())));
    }
    if super::lock_held(dir) {
        return Err(Error::Other(format!(
            "{}: still training; stop it first",
            dir.display()
        )));
    }
    // A sweep's results are read from its runs' folders: one gone would change them.
    if let Some(sweep) = super::run_record(dir).ok().and_then(|r| r.sweep) {
        return Err(Error::Other(format!(
            "{}: run #{} of sweep {}; deleting it would change the sweep's results (archive it instead)",
            dir.display(),
            sweep.index,
            sweep.id
        )));
    }
    let parent = dir.parent().unwrap_or(Path::new("."));
    let trash = parent.join(TRASH_DIR);
    if trash.exists() && !trash.is_dir() {
        return Err(Error::Other(format!(
            "{}: not a folder (deleted runs go there): move it away",
            trash.display()
        )));
    }
    std::fs::create_dir_all(&trash).map_err(|e| Error::io(&trash, e))?;
    let name = dir.file_name().unwrap_or_default();
    let mut to = trash.join(name);
    let mut n = 1;
    while to.exists() {
        to = trash.join(format!("{}.{n}", name.to_string_lossy()));
        n += 1;
    }
    std::fs::rename(dir, &to).map_err(|e| Error::io(dir, e))?;
    Ok(to)
}
