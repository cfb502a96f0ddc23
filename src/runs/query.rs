//! Sorting and filtering runs by anything a listing knows: a figure (`best`, `final`, `step`,
//! `seconds`), what it is (`status`, `preset`, `net`, `sweep`, `parent`, `name`, `tags`,
//! `note`) or any setting it started with (`lr`, `optimizer`, ...). The runs screen and
//! `gradboard runs --sort/--filter` read the same words.
//!
//! A filter is words, all of which must hold: `key=value`, `key!=value`, `key>v`, `key>=v`,
//! `key<v`, `key<=v` (numbers compare as numbers, text as text, case-insensitive), `tag:NAME`,
//! `is:archived`, or any other word, found in the id, name, preset, net, status, tags or
//! changed settings.

use super::RunRecord;
use crate::config::keys::{key, KEYS};
use crate::{Error, Result};
use std::cmp::Ordering;

/// The listing's own fields, beside the settings.
pub const FIELDS: &[&str] = &[
    "best", "final", "step", "seconds", "status", "preset", "net", "sweep", "parent", "name",
    "tags", "note",
];

/// A field's value for one run.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number.
    Number(f64),
    /// Text.
    Text(String),
}

impl Value {
    fn of_text(text: String) -> Value {
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Value::Number(v),
            _ => Value::Text(text),
        }
    }

    /// As a table shows it (numbers to four significant figures).
    pub fn text(&self) -> String {
        match self {
            Value::Number(v) => crate::config::format_float(crate::search::space::significant(*v)),
            Value::Text(t) => t.clone(),
        }
    }
}

/// Whether `name` is a field or a setting key.
pub fn is_field(name: &str) -> bool {
    FIELDS.contains(&name) || key(name).is_ok()
}

/// Checks `name`, with an error that lists the fields and keys.
pub fn check_field(name: &str) -> Result<()> {
    if is_field(name) {
        return Ok(());
    }
    Err(Error::Config(format!(
        "unknown field {name:?}; fields: {}; or a setting: {}",
        FIELDS.join(", "),
        KEYS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
    )))
}

/// Run `r`'s value of field `name`; `None` where it has none (no figure yet, no sweep, a
/// setting of a run whose start cannot be read).
pub fn value(r: &RunRecord, name: &str) -> Option<Value> {
    let text = |t: &str| Some(Value::Text(t.to_string())).filter(|_| !t.is_empty());
    match name {
        "best" => r.best_test_acc.map(Value::Number),
        "final" => r.final_test_acc.map(Value::Number),
        "step" => Some(Value::Number(r.step as f64)),
        "seconds" => Some(Value::Number(r.seconds)),
        "status" => text(r.status.as_str()),
        "preset" => text(&r.preset),
        "net" => text(&r.net),
        "sweep" => r.sweep.as_ref().map(|s| Value::Text(s.id.clone())),
        "parent" => r.parent.as_ref().map(|p| Value::Text(p.run_id.clone())),
        "name" => r.labels.name.clone().map(Value::Text),
        "tags" => text(&r.labels.tags_text()),
        "note" => r.labels.note.clone().map(Value::Text),
        _ => {
            let spec = key(name).ok()?;
            match &r.config {
                Some(config) => Some(Value::of_text(spec.get(config))),
                None => r
                    .changed
                    .get(name)
                    .map(|v| Value::of_text(crate::config::json_text(v))),
            }
        }
    }
}

/// Orders two values: numbers before text, none last (for either direction the caller
/// reverses only what is present).
pub fn compare(a: &Option<Value>, b: &Option<Value>) -> Ordering {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x.total_cmp(y),
        (Some(Value::Number(_)), Some(Value::Text(_))) => Ordering::Less,
        (Some(Value::Text(_)), Some(Value::Number(_))) => Ordering::Greater,
        (Some(Value::Text(x)), Some(Value::Text(y))) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Sorts `runs` by field `name`, largest first when `descending`; runs without the field
/// go last either way.
pub fn sort_by_field(runs: &mut [&RunRecord], name: &str, descending: bool) {
    runs.sort_by(|a, b| {
        let (va, vb) = (value(a, name), value(b, name));
        match (&va, &vb) {
            (Some(_), Some(_)) if descending => compare(&vb, &va),
            _ => compare(&va, &vb),
        }
    });
}

/// How a filter word compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// One word of a filter.
#[derive(Debug, Clone, PartialEq)]
enum Term {
    /// A field compared with a value.
    Compare(String, Op, String),
    /// A tag it must have.
    Tag(String),
    /// Archived runs only.
    Archived,
    /// Text found in the row.
    Text(String),
}

/// A filter: words that must all hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    terms: Vec<Term>,
}

impl Filter {
    /// Reads a filter; a comparison on an unknown field is an error that lists the fields.
    pub fn parse(text: &str) -> Result<Self> {
        let mut terms = Vec::new();
        for word in text.split_whitespace() {
            if let Some(tag) = word.strip_prefix("tag:") {
                terms.push(Term::Tag(tag.to_string()));
                continue;
            }
            if word == "is:archived" {
                terms.push(Term::Archived);
                continue;
            }
            let found = [
                ("!=", Op::Ne),
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("=", Op::Eq),
                (">", Op::Gt),
                ("<", Op::Lt),
            ]
            .iter()
            .filter_map(|&(sym, op)| word.find(sym).map(|at| (at, sym, op)))
            .min_by_key(|&(at, sym, _)| (at, std::cmp::Reverse(sym.len())));
            match found {
                Some((at, sym, op)) if at > 0 => {
                    let field = &word[..at];
                    check_field(field)?;
                    terms.push(Term::Compare(
                        field.to_string(),
                        op,
                        word[at + sym.len()..].to_string(),
                    ));
                }
                _ => terms.push(Term::Text(word.to_lowercase())),
            }
        }
        Ok(Filter { terms })
    }

    /// Whether it says nothing.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether it asks for archived runs (which listings otherwise hide).
    pub fn wants_archived(&self) -> bool {
        self.terms.contains(&Term::Archived)
    }

    /// Whether run `r` passes every word; `row` is its row's text for plain words.
    pub fn matches(&self, r: &RunRecord, row: &str) -> bool {
        let row = row.to_lowercase();
        self.terms.iter().all(|t| match t {
            Term::Tag(tag) => r.labels.tags.contains(tag),
            Term::Archived => r.labels.archived,
            Term::Text(word) => row.contains(word.as_str()),
            Term::Compare(field, op, want) => {
                let Some(have) = value(r, field) else {
                    return *op == Op::Ne;
                };
                let order = match (&have, want.parse::<f64>()) {
                    (Value::Number(h), Ok(w)) => h.total_cmp(&w),
                    _ => have.text().to_lowercase().cmp(&want.to_lowercase()),
                };
                match op {
                    Op::Eq => order == Ordering::Equal,
                    Op::Ne => order != Ordering::Equal,
                    Op::Gt => order == Ordering::Greater,
                    Op::Ge => order != Ordering::Less,
                    Op::Lt => order == Ordering::Less,
                    Op::Le => order != Ordering::Greater,
                }
            }
        })
    }
}

/// The setting keys whose values differ between `runs` (a key one run changed and another
/// left at its preset's value differs): what tells the runs shown apart.
pub fn varying_keys(runs: &[&RunRecord]) -> std::collections::BTreeSet<String> {
    let mut keys: std::collections::BTreeSet<String> = runs
        .iter()
        .flat_map(|r| r.changed.keys().cloned())
        .collect();
    keys.retain(|k| {
        let first = runs.first().and_then(|r| r.changed.get(k));
        runs.iter().any(|r| r.changed.get(k) != first)
    });
    keys
}

/// A run's changed settings as `key=value` words, the keys in `leading` first (the ones that
/// tell the runs shown apart), without its seed when `seedless`; then its live changes
/// (`lr 0.001 -> 0.003 @244`).
pub fn changed_words(
    r: &RunRecord,
    leading: &std::collections::BTreeSet<String>,
    seedless: bool,
) -> String {
    let mut pairs: Vec<(&String, &serde_json::Value)> = r
        .changed
        .iter()
        .filter(|(k, _)| !(seedless && *k == "seed"))
        .collect();
    pairs.sort_by_key(|(k, _)| !leading.contains(*k));
    pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={}", crate::config::json_text(v)))
        .chain(r.live_changes.iter().map(|c| c.text()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The words a plain filter word is looked for in: id, name, preset, net, status, tags, note
/// and the changed settings.
pub fn row_text(r: &RunRecord) -> String {
    let changed: Vec<String> = r
        .changed
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::config::json_text(v)))
        .chain(r.live_changes.iter().map(|c| c.text()))
        .collect();
    [
        r.run_id.as_str(),
        r.labels.name.as_deref().unwrap_or(""),
        r.preset.as_str(),
        r.net.as_str(),
        r.status.as_str(),
        &r.labels.tags_text(),
        r.labels.note.as_deref().unwrap_or(""),
        &changed.join(" "),
    ]
    .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, changed: &[(&str, serde_json::Value)]) -> RunRecord {
        RunRecord {
            changed: changed
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            ..RunRecord::empty(id)
        }
    }

    /// The keys that tell runs apart lead: a key all share goes last, one a run left at its
    /// preset's value counts as differing.
    #[test]
    fn the_settings_that_differ_lead() {
        use serde_json::json;
        let a = run("a", &[("eval_every", json!(50)), ("lr", json!(0.001))]);
        let b = run("b", &[("eval_every", json!(50)), ("lr", json!(0.004))]);
        let c = run(
            "c",
            &[
                ("eval_every", json!(50)),
                ("lr", json!(0.001)),
                ("seed", json!(1)),
            ],
        );
        let varying = varying_keys(&[&a, &b, &c]);
        assert_eq!(varying.into_iter().collect::<Vec<_>>(), ["lr", "seed"]);
        let leading = varying_keys(&[&a, &b]);
        assert_eq!(changed_words(&b, &leading, false), "lr=0.004 eval_every=50");
        assert_eq!(
            changed_words(&c, &varying_keys(&[&a, &c]), true),
            "eval_every=50 lr=0.001"
        );
        // Comparisons, tags and archived runs.
        let f = Filter::parse("lr>=0.002 eval_every=50").unwrap();
        assert!(f.matches(&b, &row_text(&b)) && !f.matches(&a, &row_text(&a)));
        assert!(Filter::parse("nosuch<3").is_err());
    }
}
