//! RunConfig: presets, overrides and their error messages.

use gradboard::config::{PresetDirs, RunConfig};
use std::path::PathBuf;

fn presets() -> PresetDirs {
    PresetDirs {
        dirs: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("presets")],
    }
}

#[test]
fn numpy_mlp_preset_has_section_one_settings() {
    let p = presets().find("numpy-mlp").unwrap();
    let c = p.config;
    assert_eq!(c.hidden, vec![100]);
    assert_eq!(
        (c.lr, c.batch_size, c.steps, c.eval_every, c.seed),
        (2e-3, 200, 1500, 100, 42)
    );
    assert_eq!((c.neg_slope, c.init_std), (0.02, Some(1e-4)));
    assert!(!p.description.is_empty());
}

#[test]
fn every_preset_loads_and_has_a_description() {
    for p in presets().list() {
        let p = p.unwrap();
        assert!(!p.description.is_empty(), "{} has no description", p.name);
        assert_eq!(p.description.lines().count(), 1);
    }
}

#[test]
fn overrides_apply_with_the_same_parser() {
    let mut c = RunConfig::default();
    c.apply_override("hidden=800,400,200,100").unwrap();
    c.apply_override("lr = 1e-4").unwrap();
    c.apply_override("init_std=default").unwrap();
    assert_eq!(c.hidden, vec![800, 400, 200, 100]);
    assert_eq!(c.lr, 1e-4);
    assert_eq!(c.init_std, None);
    let back = RunConfig::from_toml(&c.to_toml(Some("x")), "t").unwrap();
    assert_eq!(back, c, "TOML round trip");
    for key in gradboard::config::KEYS {
        let text = c.get(key.name).unwrap();
        let mut d = c.clone();
        d.set(key.name, &text).unwrap();
        assert_eq!(d, c, "get/set round trip of {}", key.name);
    }
}

/// Every key of the table, set to a value other than its default through `--set`, reads back
/// the same through the preset TOML (the table's names are the file's names).
#[test]
fn every_key_round_trips_through_set_and_the_preset_toml() {
    use gradboard::config::{KeyKind, KEYS};
    let base = RunConfig {
        engine: gradboard::config::Engine::Autograd,
        ..RunConfig::default()
    };
    for key in KEYS {
        let mut c = base.clone();
        let value = match key.kind() {
            KeyKind::Choice(names) => names
                .iter()
                .find(|n| **n != key.get(&base))
                .unwrap()
                .to_string(),
            KeyKind::Float(b) | KeyKind::OptionalFloat(b, _) => {
                format!("{}", b.lo + (b.hi - b.lo) * 0.37)
            }
            KeyKind::Integer(lo, hi) | KeyKind::OptionalInteger(lo, hi, _) => {
                (lo + 7).min(hi).to_string()
            }
            KeyKind::IntegerList => "64,32".into(),
        };
        c.apply_override(&format!("{}={value}", key.name)).unwrap();
        assert_ne!(c, base, "{} did not change", key.name);
        let text = c.to_toml(None);
        let table: toml::Table = text.parse().unwrap();
        assert!(
            table.contains_key(key.name),
            "{} missing from\n{text}",
            key.name
        );
        let mut back = RunConfig::default();
        for (k, v) in &table {
            let v = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Array(a) => a
                    .iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            back.set(k, &v).unwrap();
        }
        assert_eq!(back, c, "{} round trip", key.name);
    }
}

fn error(assignment: &str) -> String {
    RunConfig::default()
        .apply_override(assignment)
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_values_name_the_key_and_what_is_allowed() {
    let e = error("optimiser=adam");
    assert!(
        e.contains("unknown key \"optimiser\"") && e.contains("optimizer"),
        "{e}"
    );
    let e = error("optimizer=adagrad");
    assert!(
        e.contains("optimizer") && e.contains("sgd, momentum, nesterov, adam, adamw, rmsprop"),
        "{e}"
    );
    let e = error("lr=fast");
    assert!(e.contains("lr: expected a number"), "{e}");
    let e = error("lr=-1");
    assert!(
        e.contains("lr: -1 is out of range; allowed: above 0"),
        "{e}"
    );
    let e = error("dropout=1.0");
    assert!(e.contains("dropout") && e.contains("below 1"), "{e}");
    let e = error("batch_size=0");
    assert!(e.contains("batch_size") && e.contains("1 to 50000"), "{e}");
    let e = error("hidden=800,,100");
    assert!(e.contains("hidden") && e.contains("800,400,200,100"), "{e}");
    let e = error("steps");
    assert!(e.contains("expected key=value"), "{e}");
}

#[test]
fn toml_type_errors_and_unknown_keys_are_rejected() {
    let e = RunConfig::from_toml("lr = \"fast\"", "p.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("p.toml") && e.contains("lr: expected a number"),
        "{e}"
    );
    let e = RunConfig::from_toml("colour = 3", "p.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown key \"colour\""), "{e}");
    let e = RunConfig::from_toml("lr = [", "p.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not valid TOML"), "{e}");
}

#[test]
fn the_manual_engine_refuses_what_it_cannot_do() {
    let e = RunConfig::from_toml("engine = \"manual\"\noptimizer = \"adam\"", "p")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("engine = manual") && e.contains("optimizer = sgd"),
        "{e}"
    );
    let e = RunConfig::from_toml("engine = \"manual\"\nprecision = \"bf16\"", "p")
        .unwrap_err()
        .to_string();
    assert!(e.contains("precision = f32"), "{e}");
}

#[test]
fn an_unknown_preset_lists_the_known_ones() {
    let e = presets().find("mlp-fastest").unwrap_err().to_string();
    assert!(
        e.contains("unknown preset \"mlp-fastest\"") && e.contains("numpy-mlp"),
        "{e}"
    );
}
