//! Exporting runs: the PNG decodes at the figure's size, the SVG is XML, the CSV has one row
//! an event of each run, the report names what differs.

use gradboard::config::PresetDirs;
use gradboard::data::synthetic::{files, write_archive};
use gradboard::data::Cifar10;
use gradboard::model::Compute;
use gradboard::runner::{RunRequest, Runner};
use gradboard::runs::export::{export, FIGURE_SIZE};
use gradboard::runs::StoredRun;
use std::path::PathBuf;
use std::sync::Arc;

#[test]
fn two_runs_export_to_a_figure_a_table_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("tiny.tar.gz");
    write_archive(&archive, &files(40, 50)).unwrap();
    let data = Arc::new(Cifar10::load(&archive).unwrap());
    let runner = Runner::new(data, &archive, &dir.path().join("runs"), Compute::cpu(), 1);
    let base = PresetDirs {
        dirs: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("presets")],
    }
    .find("mlp-default")
    .unwrap()
    .config;
    let mut dirs = Vec::new();
    for lr in ["1e-3", "2e-3"] {
        let mut c = base.clone();
        for s in [
            "steps=30",
            "eval_every=10",
            "batch_size=20",
            &format!("lr={lr}"),
        ] {
            c.apply_override(s).unwrap();
        }
        let h = runner
            .start(
                RunRequest::new("mlp-default", c, Some(base.clone())),
                Box::new(|_| {}),
            )
            .unwrap();
        dirs.push(h.dir.clone());
        h.wait();
    }
    let out = dir.path().join("export");
    let written = export(&dirs, &out).unwrap();
    assert_eq!(written.files.len(), 4);

    let decoder = png::Decoder::new(std::fs::File::open(out.join("curves.png")).unwrap());
    let reader = decoder.read_info().unwrap();
    assert_eq!((reader.info().width, reader.info().height), FIGURE_SIZE);

    let svg = std::fs::read_to_string(out.join("curves.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert!(
        svg.contains("lr=0.001") && svg.contains("lr=0.002"),
        "the legend names each run's lr"
    );

    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "run_id,event,step,epoch,loss,acc,test_loss,test_acc,lr,time"
    );
    let rows: Vec<&str> = lines.collect();
    let events: usize = dirs
        .iter()
        .map(|d| StoredRun::load(d).unwrap().events.len())
        .sum();
    assert_eq!(rows.len(), events, "one row an event of each run");
    assert!(rows.iter().all(|r| r.split(',').count() == 10));
    assert_eq!(rows.iter().filter(|r| r.contains(",eval,")).count(), 6);

    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("| lr | 0.001 | 0.002 |"), "{report}");
    assert!(report.contains("![loss and accuracy](curves.png)"));
    assert!(
        !report.contains("| steps | 30"),
        "only the keys that differ:\n{report}"
    );
}
