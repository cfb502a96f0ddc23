//! A command sweep's command: a template such as `python train.py --lr {lr}` whose `{key}`
//! places take each trial's values, the objective it reports and which way is better, and how
//! long a stopped trial has between SIGTERM and SIGKILL. Its keys are the command's own, not
//! gradboard's settings.

use crate::{Error, Result};
use std::collections::BTreeMap;

/// Places every trial fills beside the swept keys: its seed, its index, its run folder.
pub const SPECIAL_PLACES: [&str; 3] = ["seed", "trial", "run_dir"];

/// Seconds between SIGTERM and SIGKILL when none is given.
pub const DEFAULT_KILL_AFTER: f64 = 10.0;

/// The command a sweep runs for each trial.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSpec {
    /// The program and its arguments, each a template.
    pub argv: Vec<String>,
    /// The metric the sweep chooses by, as the command reports it.
    pub objective: String,
    /// Whether smaller is better (a loss) rather than larger (an accuracy).
    pub minimize: bool,
    /// Seconds a stopped trial's processes have between SIGTERM and SIGKILL.
    pub kill_after: f64,
    /// The folder the command runs in (where the sweep was started, when not given).
    pub workdir: Option<std::path::PathBuf>,
}

/// One piece of a template: text as it is, or a place to fill.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Place(String),
}

impl CommandSpec {
    /// A command from one line as a shell splits it (quotes and backslashes as `sh` reads
    /// them; no pipes or variables: give `sh -c '...'` for those).
    pub fn from_line(line: &str, objective: &str, minimize: bool, kill_after: f64) -> Result<Self> {
        let argv = shlex::split(line).ok_or_else(|| {
            Error::Config(format!(
                "--command {line:?}: an unclosed quote or a trailing backslash"
            ))
        })?;
        Self::new(argv, objective, minimize, kill_after)
    }

    /// A command from its words, checked on its own (the keys against the sweep in `check`).
    pub fn new(
        argv: Vec<String>,
        objective: &str,
        minimize: bool,
        kill_after: f64,
    ) -> Result<Self> {
        if argv.is_empty() || argv[0].trim().is_empty() {
            return Err(Error::Config("command: no program to run".into()));
        }
        if objective.trim().is_empty() {
            return Err(Error::Config(
                "a command sweep needs --objective NAME: the metric the command reports".into(),
            ));
        }
        if !(kill_after.is_finite() && (0.0..=3600.0).contains(&kill_after)) {
            return Err(Error::Config(format!(
                "--kill-after {kill_after}: give 0 to 3600 seconds"
            )));
        }
        let spec = CommandSpec {
            argv,
            objective: objective.trim().to_string(),
            minimize,
            kill_after,
            workdir: None,
        };
        spec.places()?;
        Ok(spec)
    }

    /// The keys the template names, each once, in order.
    pub fn places(&self) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for word in &self.argv {
            for piece in pieces(word)? {
                if let Piece::Place(name) = piece {
                    if !out.contains(&name) {
                        out.push(name);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Checks the template against what the sweep gives: every place is a swept key, a key
    /// set for every trial, or one of `SPECIAL_PLACES`; every swept key has a place.
    pub fn check_keys(&self, swept: &[String], set: &[String]) -> Result<()> {
        let places = self.places()?;
        for place in &places {
            let known = swept.contains(place)
                || set.contains(place)
                || SPECIAL_PLACES.contains(&place.as_str());
            if !known {
                return Err(Error::Config(format!(
                    "command: {{{place}}} is not swept; sweep it (--grid/--range/--choice {place}=...), set it (--set {place}=...), or use one of {{seed}} {{trial}} {{run_dir}}"
                )));
            }
        }
        if let Some(unused) = swept.iter().find(|k| !places.contains(k)) {
            return Err(Error::Config(format!(
                "command: {unused} is swept but the command has no {{{unused}}}; put it where the command takes it"
            )));
        }
        Ok(())
    }

    /// The command with every place filled from `values`.
    pub fn render(&self, values: &BTreeMap<String, String>) -> Result<Vec<String>> {
        self.argv
            .iter()
            .map(|word| {
                let mut out = String::new();
                for piece in pieces(word)? {
                    match piece {
                        Piece::Text(t) => out.push_str(&t),
                        Piece::Place(name) => out.push_str(values.get(&name).ok_or_else(|| {
                            Error::Config(format!("command: no value for {{{name}}}"))
                        })?),
                    }
                }
                Ok(out)
            })
            .collect()
    }

    /// A short name for the sweep: the script's (`python train.py` is `train`), else the
    /// program's.
    pub fn name(&self) -> String {
        let stem = |w: &str| {
            std::path::Path::new(w)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let program = stem(&self.argv[0]);
        let interpreter = [
            "python", "python3", "bash", "sh", "node", "julia", "Rscript", "uv",
        ]
        .iter()
        .any(|p| program.starts_with(p));
        let script = self
            .argv
            .iter()
            .skip(1)
            .find(|w| !w.starts_with('-') && !w.contains('{'));
        let name = match (interpreter, script) {
            (true, Some(s)) => stem(s),
            _ => program,
        };
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .take(24)
            .collect();
        if clean.is_empty() {
            "command".into()
        } else {
            clean
        }
    }
}

/// `max` (the default) or `min`: whether smaller is better.
pub fn minimizes(direction: Option<&str>) -> Result<bool> {
    match direction.map(str::trim) {
        None | Some("max") => Ok(false),
        Some("min") => Ok(true),
        Some(other) => Err(Error::Config(format!(
            "direction {other:?}: give max (larger is better) or min (smaller is better)"
        ))),
    }
}

/// Whether `name` can be a command's key: a letter or `_`, then letters, digits, `_`, `-`, `.`.
pub fn is_key_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A word split into text and places; `{{` and `}}` are braces.
fn pieces(word: &str) -> Result<Vec<Piece>> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                if !closed || !is_key_name(&name) {
                    return Err(Error::Config(format!(
                        "command word {word:?}: {{{name}... is not a key; write {{{{ and }}}} for braces"
                    )));
                }
                if !text.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut text)));
                }
                out.push(Piece::Place(name));
            }
            '}' => {
                return Err(Error::Config(format!(
                    "command word {word:?}: a lone }}; write }}}} for a brace"
                )))
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_template_fills_its_places_and_keeps_braces_written_twice() {
        let c = CommandSpec::from_line(
            "python train.py --lr={lr} --bs {batch_size} --tag 'a b' --json '{{\"x\":1}}'",
            "val_acc",
            false,
            10.0,
        )
        .unwrap();
        assert_eq!(c.places().unwrap(), vec!["lr", "batch_size"]);
        assert_eq!(
            c.render(&values(&[("lr", "0.01"), ("batch_size", "64")]))
                .unwrap(),
            vec![
                "python",
                "train.py",
                "--lr=0.01",
                "--bs",
                "64",
                "--tag",
                "a b",
                "--json",
                "{\"x\":1}"
            ]
        );
        assert_eq!(c.name(), "train");
    }

    #[test]
    fn a_place_that_is_not_swept_and_a_swept_key_without_a_place_are_refused() {
        let c = CommandSpec::from_line("./run {lr} {mom}", "loss", true, 10.0).unwrap();
        let e = c.check_keys(&["lr".into()], &[]).unwrap_err().to_string();
        assert!(e.contains("{mom} is not swept"), "{e}");
        assert!(c.check_keys(&["lr".into()], &["mom".into()]).is_ok());
        let e = c
            .check_keys(&["lr".into(), "wd".into()], &["mom".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("wd is swept but the command has no {wd}"), "{e}");
        let c =
            CommandSpec::from_line("./run {seed} {trial} {run_dir}", "loss", true, 1.0).unwrap();
        assert!(c.check_keys(&[], &[]).is_ok());
    }

    #[test]
    fn bad_templates_are_one_line() {
        for (line, want) in [
            ("", "no program"),
            ("python 'open", "unclosed quote"),
            ("run {not a key}", "is not a key"),
            ("run {x", "is not a key"),
            ("run x}", "lone }"),
        ] {
            let e = CommandSpec::from_line(line, "acc", false, 10.0)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{line}: {e}");
        }
        let e = CommandSpec::from_line("run", "", false, 10.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--objective"), "{e}");
        let e = CommandSpec::from_line("run", "a", false, f64::NAN)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--kill-after"), "{e}");
    }
}
