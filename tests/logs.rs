//! Other programs' logs: TensorBoard event files (simple values, tensors, hparams; a corrupt
//! record skipped and counted; a half-written last record waiting), JSON-lines metrics, and
//! gradboard's own runs, found under one folder.

use gradboard::logs::tensorboard::{
    scalar_event, Event, HParamsPluginData, PluginData, ProtoValue, SessionStartInfo, Summary,
    SummaryMetadata, SummaryValue, TensorProto,
};
use gradboard::logs::tfrecord::frame;
use gradboard::logs::{scan, Source};
use prost::Message;
use std::path::Path;

/// An hparams event as PyTorch's `add_hparams` writes it (the session start).
fn hparams_event(values: &[(&str, ProtoValue)]) -> Vec<u8> {
    let content = HParamsPluginData {
        session_start_info: Some(SessionStartInfo {
            hparams: values
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }),
    }
    .encode_to_vec();
    Event {
        wall_time: 1.0,
        step: 0,
        summary: Some(Summary {
            value: vec![SummaryValue {
                tag: "_hparams_/session_start_info".into(),
                simple_value: None,
                tensor: None,
                metadata: Some(SummaryMetadata {
                    plugin_data: Some(PluginData {
                        plugin_name: "hparams".into(),
                        content,
                    }),
                }),
            }],
        }),
    }
    .encode_to_vec()
}

/// A `tensor` scalar as TensorFlow 2 writes it (`tensor_content`, a double).
fn tensor_event(step: i64, tag: &str, v: f64) -> Vec<u8> {
    Event {
        wall_time: 2.0,
        step,
        summary: Some(Summary {
            value: vec![SummaryValue {
                tag: tag.into(),
                simple_value: None,
                tensor: Some(TensorProto {
                    dtype: 2,
                    tensor_content: v.to_le_bytes().to_vec(),
                    float_val: vec![],
                    double_val: vec![],
                }),
                metadata: None,
            }],
        }),
    }
    .encode_to_vec()
}

fn write(path: &Path, records: &[Vec<u8>]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let bytes: Vec<u8> = records.iter().flat_map(|r| frame(r)).collect();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn tensorboard_jsonl_and_gradboard_runs_are_found_with_what_they_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let tb = dir.path().join("exp/lr0.1/events.out.tfevents.1.host");
    let mut records = vec![hparams_event(&[
        (
            "lr",
            ProtoValue {
                number_value: Some(0.1),
                ..Default::default()
            },
        ),
        (
            "opt",
            ProtoValue {
                string_value: Some("adam".into()),
                ..Default::default()
            },
        ),
    ])];
    for step in 0..5 {
        records.push(scalar_event(
            step,
            10.0 + step as f64,
            &[("train/loss", 2.0 - 0.25 * step as f32)],
        ));
    }
    records.push(tensor_event(4, "val/acc", 0.625));
    write(&tb, &records);
    // A corrupt record in the middle, then a half-written one at the end.
    let mut bytes = std::fs::read(&tb).unwrap();
    let mut bad = frame(&scalar_event(9, 0.0, &[("train/loss", 9.0)]));
    let n = bad.len();
    bad[n - 6] ^= 0x40;
    bytes.extend(bad);
    bytes.extend(&frame(&scalar_event(10, 0.0, &[("train/loss", 0.5)]))[..9]);
    std::fs::write(&tb, bytes).unwrap();
    let jl = dir.path().join("exp/script/metrics.jsonl");
    std::fs::create_dir_all(jl.parent().unwrap()).unwrap();
    std::fs::write(
        &jl,
        "{\"config\": {\"bs\": 64}}\n{\"step\": 1, \"loss\": 1.0}\nnot json\n{\"step\": 2, \"loss\": 0.5, \"acc\": 0.75}\n",
    )
    .unwrap();

    let runs = scan(dir.path()).unwrap();
    let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["exp/lr0.1", "exp/script"]);
    let t = &runs[0];
    assert_eq!(t.source, Source::Tensorboard);
    assert_eq!(t.settings["lr"], 0.1);
    assert_eq!(t.settings["opt"], "adam");
    let loss = &t.summaries()["train/loss"];
    assert_eq!((loss.count, loss.step), (5, 4));
    assert_eq!(
        (loss.last, loss.min, loss.max),
        (Some(1.0), Some(1.0), Some(2.0))
    );
    assert_eq!(t.summaries()["val/acc"].last, Some(0.625));
    assert_eq!(t.skipped, 1, "the corrupt record; the cut one waits");
    let j = &runs[1];
    assert_eq!(j.source, Source::Jsonl);
    assert_eq!(j.settings["bs"], 64);
    assert_eq!(j.summaries()["loss"].last, Some(0.5));
    assert_eq!(j.skipped, 1);
    let json = t.json();
    for key in ["id", "path", "source", "settings", "scalars"] {
        assert!(json.get(key).is_some(), "{key} in {json}");
    }
    assert_eq!(json["scalars"]["train/loss"]["count"], 5);
}

#[test]
fn garbage_files_and_empty_folders_are_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a")).unwrap();
    std::fs::write(
        dir.path().join("a/events.out.tfevents.x"),
        b"\x00\x01garbage that is no record",
    )
    .unwrap();
    std::fs::write(dir.path().join("a/metrics.jsonl"), b"\xff\xfe\n").unwrap();
    let runs = scan(dir.path()).unwrap();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].scalars.is_empty());
    assert_eq!(runs[0].skipped, 1, "a length that cannot be framed");
    std::os::unix::fs::symlink(dir.path(), dir.path().join("a/loop")).unwrap();
    assert_eq!(scan(dir.path()).unwrap().len(), 1, "a link is not followed");
    assert!(scan(&dir.path().join("nowhere")).is_err());
}
