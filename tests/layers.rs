//! Per-layer statistics through the runner on a small data set: the lab's lesson (without
//! batch norm and with N(0, 1e-4) weights the last hidden layer's output all but vanishes,
//! with batch norm it does not), the warning it gives, section 1's network reporting too,
//! and `diag_every = 0` writing nothing.

#[path = "common/runs.rs"]
mod runs;
use gradboard::events::{ActStats, Event, EventKind, ParamStats};
use gradboard::runner::RunRequest;
use runs::*;

/// One `layers` event: step, parameters, hidden layers.
type Layers = (usize, Vec<ParamStats>, Vec<ActStats>);

/// The `layers` events and warning kinds of a run of `preset` with `sets`.
fn layers_of(preset: &str, sets: &[&str]) -> (Vec<Layers>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let config = small(preset, sets);
    let (handle, rx) = start(&runner, RunRequest::new(preset, config, None));
    handle.wait();
    let events: Vec<Event> = rx.try_iter().collect();
    let mut layers = Vec::new();
    let mut warnings = Vec::new();
    for e in events {
        match e.kind {
            EventKind::Layers { step, params, acts } => layers.push((step, params, acts)),
            EventKind::Warning { kind, layer, .. } => warnings.push(format!("{kind} {layer}")),
            _ => {}
        }
    }
    (layers, warnings)
}

#[test]
fn without_batch_norm_the_last_hidden_layer_all_but_vanishes() {
    // The report's settings: Adam at 1e-4 from N(0, 1e-4), the figures after the first step.
    let sets = ["steps=2", "diag_every=1", "init_std=1e-4", "lr=1e-4"];
    let (with_bn, _) = layers_of("mlp-best", &[&sets[..], &["norm=batchnorm"]].concat());
    let (without, warned) = layers_of("mlp-best", &[&sets[..], &["norm=none"]].concat());
    assert_eq!(with_bn.len(), 2, "steps 1 and 2");
    let last = |l: &[Layers]| -> f64 {
        let acts = &l[0].2;
        assert_eq!(
            acts.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
            ["fc1", "fc2", "fc3", "fc4"]
        );
        acts[3].std
    };
    let (bn, plain) = (last(&with_bn), last(&without));
    assert!(
        plain < bn * 1e-2,
        "last hidden std without batch norm {plain:e}, with {bn:e}"
    );
    let stds: Vec<f64> = without[0].2.iter().map(|a| a.std).collect();
    assert!(
        warned.contains(&"vanishing fc4".to_string()),
        "{warned:?} {stds:?}"
    );
    // Every trainable tensor is reported, with its gradient and update.
    let params = &with_bn[0].1;
    assert!(params.iter().any(|p| p.name == "fc1.weight"));
    for p in params {
        assert!(p.norm > 0.0 && p.grad_norm.is_finite(), "{p:?}");
        assert!(p.q[0] <= p.q[3] && p.q[3] <= p.q[6]);
    }
    let fc1 = params.iter().find(|p| p.name == "fc1.weight").unwrap();
    assert!(fc1.update_ratio > 0.0 && fc1.grad_norm > 0.0);
}

#[test]
fn section_ones_network_reports_its_gradients_from_its_updates() {
    let (layers, _) = layers_of("numpy-mlp", &["steps=2", "diag_every=1", "lr=1e-3"]);
    assert_eq!(layers.len(), 2);
    let (_, params, acts) = &layers[1];
    let w = params.iter().find(|p| p.name == "linear0.weight").unwrap();
    assert!(w.grad_norm > 0.0 && w.update_ratio > 0.0, "{w:?}");
    // Plain SGD: the change is lr times the gradient, so their norms are in that ratio.
    let change = w.update_ratio * w.norm;
    assert!(
        (change / w.grad_norm - 1e-3).abs() < 1e-4,
        "{change} vs {}",
        w.grad_norm
    );
    assert_eq!(acts.len(), 1);
}

#[test]
fn diag_every_zero_writes_no_layers_event_and_the_statistics_change_nothing() {
    let (layers, warnings) = layers_of("mlp-best", &["steps=4", "diag_every=0"]);
    assert!(layers.is_empty() && warnings.is_empty());
    // The probe puts the batch norms' running statistics back and draws no random number
    // the run uses: the same run with and without statistics has the same curve.
    let curve = |diag: &str| {
        let dir = tempfile::tempdir().unwrap();
        let runner = runner(dir.path());
        let config = small("mlp-best", &["steps=20", "eval_every=5", diag]);
        let (handle, rx) = start(&runner, RunRequest::new("mlp-best", config, None));
        handle.wait();
        let events: Vec<Event> = rx.try_iter().collect();
        eval_curve(&events.iter().collect::<Vec<_>>())
    };
    assert_eq!(curve("diag_every=1"), curve("diag_every=0"));
}
