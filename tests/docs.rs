//! docs/events.md documents every event a run writes: each kind and each field of it (every
//! optional field filled in) appears there, so a field added to the code without a word in the
//! documentation fails here.

use gradboard::config::RunConfig;
use gradboard::events::{
    ActStats, DataInfo, Event, EventKind, ParamStats, ParentRef, RunStatus, StartInfo, SweepRef,
};
use std::collections::BTreeMap;

/// One event of every kind, every optional field present.
fn every_kind() -> Vec<EventKind> {
    let q = [0.0; 7];
    vec![
        EventKind::Start(Box::new(StartInfo {
            config: RunConfig::default(),
            schema: 3,
            version: "0.1.0".into(),
            threads: 2,
            device: "cpu".into(),
            data: DataInfo {
                path: "d".into(),
                train: 1,
                test: 1,
                format: "cifar-10".into(),
                shape: vec![3, 32, 32],
                classes: 10,
                class_names: vec!["cat".into()],
            },
            train_size: 1,
            preset: "p".into(),
            changed: BTreeMap::from([("lr".to_string(), 0.1.into())]),
            parent: Some(ParentRef {
                run_id: "a".into(),
                step: 1,
            }),
            sweep: Some(SweepRef {
                id: "s".into(),
                index: 0,
                group: Some(0),
            }),
            params: Some(1),
            flops: Some(1.0),
            command: Some(vec!["python".into()]),
        })),
        EventKind::Train {
            step: 1,
            epoch: 0.1,
            loss: 2.0,
            acc: 0.1,
            lr: 0.1,
            samples_per_sec: 1.0,
            grad_norm: Some(1.0),
        },
        EventKind::Eval {
            step: 1,
            epoch: 0.1,
            test_loss: 2.0,
            test_acc: 0.1,
            val_loss: Some(2.0),
            val_acc: Some(0.1),
        },
        EventKind::Set {
            step: 1,
            key: "lr".into(),
            value: 0.1.into(),
        },
        EventKind::Paused {
            step: 1,
            paused: true,
        },
        EventKind::Resume { step: 1 },
        EventKind::Prune {
            step: 1,
            reason: "r".into(),
        },
        EventKind::Layers {
            step: 1,
            params: vec![ParamStats {
                name: "w".into(),
                norm: 1.0,
                grad_norm: 1.0,
                grad_mean_abs: 1.0,
                update_ratio: 1.0,
                q,
                grad_q: q,
            }],
            acts: vec![ActStats {
                name: "a".into(),
                mean: 0.0,
                std: 1.0,
                dead: 0.0,
                q,
            }],
        },
        EventKind::Metrics {
            step: 1,
            values: BTreeMap::from([("m".to_string(), 1.0)]),
        },
        EventKind::Warning {
            step: 1,
            kind: "dead".into(),
            layer: "a".into(),
            message: "m".into(),
        },
        EventKind::Done {
            step: 1,
            status: RunStatus::Completed,
            final_test_acc: Some(0.1),
            best_test_acc: Some(0.1),
            final_val_acc: Some(0.1),
            best_val_acc: Some(0.1),
            seconds: 1.0,
            reason: Some("r".into()),
            warnings: vec!["dead a".into()],
            time_to: BTreeMap::from([("0.5".to_string(), 1.0)]),
        },
    ]
}

/// The field names of an object and of the objects inside it (not the settings' keys, which
/// `presets --keys` documents, nor maps keyed by data).
fn field_names(value: &serde_json::Value, out: &mut Vec<String>) {
    if let serde_json::Value::Object(map) = value {
        for (k, v) in map {
            out.push(k.clone());
            if !matches!(k.as_str(), "config" | "changed" | "values" | "time_to") {
                field_names(v, out);
            }
        }
    } else if let serde_json::Value::Array(items) = value {
        for v in items {
            field_names(v, out);
        }
    }
}

#[test]
fn every_event_kind_and_field_is_documented() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/events.md"))
        .expect("docs/events.md");
    for kind in every_kind() {
        let event = Event {
            kind,
            run_id: "r".into(),
            time: 1.0,
        };
        let json: serde_json::Value = serde_json::from_str(&event.to_json()).unwrap();
        let name = event.name();
        assert!(
            doc.contains(&format!("## `{name}`")),
            "no section for `{name}`"
        );
        let mut fields = Vec::new();
        field_names(&json, &mut fields);
        for field in fields {
            assert!(
                doc.contains(&format!("`{field}`")),
                "docs/events.md does not mention `{field}` of `{name}`"
            );
        }
    }
}
