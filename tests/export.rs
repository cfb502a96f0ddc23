//! Exporting runs: the PNG decodes at the figure's size, the SVG is XML, the CSV has one row
//! an event of each run, the report names what differs.

use gradboard::config::PresetDirs;
use gradboard::data::synthetic::{files, write_archive};
use gradboard::data::Dataset;
use gradboard::model::Compute;
use gradboard::runner::{RunRequest, Runner};
use gradboard::runs::export::{export, FIGURE_SIZE};
use gradboard::runs::StoredRun;
use std::path::PathBuf;
use std::sync::Arc;

#[path = "common/runs.rs"]
mod runs;

#[test]
fn two_runs_export_to_a_figure_a_table_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("tiny.tar.gz");
    write_archive(&archive, &files(40, 50)).unwrap();
    let data = Arc::new(Dataset::load(&archive).unwrap());
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

/// Two 30-step runs of mlp-default at lr 0.001 and 0.002 in `dir`/runs: their folders.
fn two_runs(dir: &std::path::Path) -> Vec<PathBuf> {
    let runner = runs::runner(dir);
    let mut dirs = Vec::new();
    for lr in ["1e-3", "2e-3"] {
        let config = runs::small("mlp-default", &["steps=30", &format!("lr={lr}")]);
        let (h, _) = runs::start(&runner, RunRequest::new("mlp-default", config, None));
        dirs.push(h.dir.clone());
        h.wait();
    }
    dirs
}

/// A run whose loss reached the thousands beside a healthy one: the figure shows every point
/// of both, the loss on a log axis (clipped at 1.5 times the start, the blown-up run read as a
/// flat line at the top edge, "loss = 3.5").
#[test]
fn a_run_that_blew_up_is_drawn_whole_on_a_log_axis() {
    let dir = tempfile::tempdir().unwrap();
    let dirs = two_runs(dir.path());
    // The second run's train loss made to climb to about 2,000.
    let events = dirs[1].join("events.jsonl");
    let text = std::fs::read_to_string(&events).unwrap();
    let blown: Vec<String> = text
        .lines()
        .map(|line| {
            let mut e: serde_json::Value = serde_json::from_str(line).unwrap();
            if e["event"] == "train" {
                let step = e["step"].as_f64().unwrap();
                e["loss"] = (e["loss"].as_f64().unwrap() * step * step).into();
            }
            e.to_string()
        })
        .collect();
    std::fs::write(&events, blown.join("\n") + "\n").unwrap();
    let out = dir.path().join("export");
    export(&dirs, &out).unwrap();
    let svg = std::fs::read_to_string(out.join("curves.svg")).unwrap();
    assert!(svg.contains("loss (log scale)"), "a log axis for the loss");
    // Ticks reach the thousands (in the exponent form past 10,000, or plainly below).
    let ticks: Vec<f64> = roxmltree::Document::parse(&svg)
        .unwrap()
        .descendants()
        .filter_map(|n| n.text())
        .filter_map(|t| t.trim().parse::<f64>().ok())
        .collect();
    assert!(
        ticks.iter().any(|&t| t >= 500.0),
        "the top of the loss axis shows the blown-up run: {ticks:?}"
    );
}

/// A setting changed while a run trained is written the same way everywhere: the listing
/// (`lr 0.001 -> 0.003 @10`), the report's table (start value, then each change) and its own
/// section, and the figure marks it at its step as the screen does.
#[test]
fn a_live_change_reads_the_same_in_the_listing_the_report_and_the_figure() {
    let dir = tempfile::tempdir().unwrap();
    let dirs = two_runs(dir.path());
    // The first run's lr raised after step 10, as the dashboard's + key does.
    let events = dirs[0].join("events.jsonl");
    let text = std::fs::read_to_string(&events).unwrap();
    let run_id = dirs[0].file_name().unwrap().to_str().unwrap();
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        lines.push(line.to_string());
        if line.contains("\"event\":\"train\"") && line.contains("\"step\":10,") {
            lines.push(format!(
                "{{\"event\":\"set\",\"step\":10,\"key\":\"lr\",\"value\":0.003,\"run_id\":\"{run_id}\",\"time\":1.0}}"
            ));
        }
    }
    std::fs::write(&events, lines.join("\n") + "\n").unwrap();
    let listed = gradboard::runs::list_runs(&dir.path().join("runs")).unwrap();
    let record = listed.iter().find(|r| r.run_id == run_id).unwrap();
    assert_eq!(
        record
            .live_changes
            .iter()
            .map(|c| c.text())
            .collect::<Vec<_>>(),
        ["lr 0.001 -> 0.003 @10"]
    );
    let out = dir.path().join("export");
    export(&dirs, &out).unwrap();
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("| lr | 0.001 -> 0.003 @10 | 0.002 |"),
        "{report}"
    );
    assert!(
        report.contains("## Settings changed while training")
            && report.contains("| 10 | lr | 0.001 | 0.003 |"),
        "{report}"
    );
    let svg = std::fs::read_to_string(out.join("curves.svg")).unwrap();
    assert!(
        svg.contains("lr=0.003"),
        "the change is marked in the figure"
    );
}

/// Three seeds of one configuration and a sweep's runs: the export folds the seeds into one
/// group (its mean and band in the figure, n and mean ± std in the report), and runs of one
/// sweep carry its importance table and parallel coordinates.
#[test]
fn seeds_export_as_a_group_and_a_sweeps_runs_with_its_importance() {
    use gradboard::config::sweep::{SweepPlan, SweepSpec};
    use gradboard::runner::sweep::{export_runs, start_sweep};
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("tiny.tar.gz");
    write_archive(&archive, &files(40, 50)).unwrap();
    let data = Arc::new(Dataset::load(&archive).unwrap());
    let runs_dir = dir.path().join("runs");
    let runner = Runner::new(data, &archive, &runs_dir, Compute::cpu(), 1);
    let presets = PresetDirs {
        dirs: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("presets")],
    };
    let mut spec = SweepSpec::new("t", "mlp-default");
    spec.set = vec![
        "steps=20".into(),
        "eval_every=10".into(),
        "batch_size=20".into(),
    ];
    spec.add_grid("lr=1e-3,3e-3").unwrap();
    spec.seeds = 3;
    let plan = SweepPlan::new(spec, &presets).unwrap();
    let state = start_sweep(&runner, plan, 1, Box::new(|_| {}))
        .unwrap()
        .wait()
        .0;
    let dirs: Vec<PathBuf> = state
        .queue
        .iter()
        .map(|e| runs_dir.join(e.run_id().unwrap()))
        .collect();
    let out = dir.path().join("out");
    let exported = export_runs(&dirs, &out).unwrap();
    let names: Vec<String> = exported
        .files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert!(names.contains(&"parallel.png".to_string()), "{names:?}");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("## Groups (runs that differ only by seed)"),
        "{report}"
    );
    assert_eq!(
        report.matches(" | 3 | ").count(),
        2,
        "two groups of three: {report}"
    );
    assert!(
        report.contains("importance (fANOVA, exact on a grid)") && report.contains("| lr |"),
        "{report}"
    );
    let svg = std::fs::read_to_string(out.join("curves.svg")).unwrap();
    assert!(svg.contains("band min-max"), "the group's legend");
    assert!(svg.contains("<polygon"), "the band is drawn");
}

/// Runs with per-layer statistics export them: `layers.csv` with a row a layer at each event,
/// the figure, and the report pointing at it.
#[test]
fn runs_with_layers_events_export_them() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("tiny.tar.gz");
    write_archive(&archive, &files(40, 50)).unwrap();
    let data = Arc::new(Dataset::load(&archive).unwrap());
    let runner = Runner::new(data, &archive, &dir.path().join("runs"), Compute::cpu(), 1);
    let mut c = PresetDirs {
        dirs: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("presets")],
    }
    .find("mlp-best")
    .unwrap()
    .config;
    for s in ["steps=6", "eval_every=3", "batch_size=20", "diag_every=2"] {
        c.apply_override(s).unwrap();
    }
    let mut dirs = Vec::new();
    for _ in 0..2 {
        let h = runner
            .start(
                RunRequest::new("mlp-best", c.clone(), None),
                Box::new(|_| {}),
            )
            .unwrap();
        dirs.push(h.dir.clone());
        h.wait();
    }
    let out = dir.path().join("out");
    let exported = export(&dirs, &out).unwrap();
    assert!(exported.files.iter().any(|f| f.ends_with("layers.png")));
    let csv = std::fs::read_to_string(out.join("layers.csv")).unwrap();
    // Two runs of three events (steps 2, 4, 6) of 14 parameter tensors and 4 hidden layers.
    assert_eq!(csv.lines().count(), 1 + 2 * 3 * (14 + 4), "{csv}");
    assert!(csv.lines().nth(1).unwrap().contains(",2,param,fc1.weight,"));
    let png = image_size(&out.join("layers.png"));
    assert_eq!(png, (1400, 2 * 460), "a row a run");
    let svg = std::fs::read_to_string(out.join("layers.svg")).unwrap();
    for d in &dirs {
        let id = d.file_name().unwrap().to_string_lossy().to_string();
        assert!(svg.contains(&id), "every run is drawn: {id}");
    }
    // Ticks: no rounding residue (-5.6e-17) nor decimals on steps; names label the rows.
    let texts: Vec<&str> = svg
        .split("<text")
        .skip(1)
        .filter_map(|t| t.split_once('>')?.1.split('<').next())
        .map(str::trim)
        .collect();
    assert!(texts.iter().all(|t| !t.contains("e-1")), "{texts:?}");
    assert!(texts.contains(&"4") && !texts.contains(&"4.0"), "{texts:?}");
    assert!(texts.contains(&"fc1.weight"), "{texts:?}");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("layers.png"), "{report}");
}

fn image_size(path: &std::path::Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}
