//! `gradboard train`: one run to the end, with JSONL on stdout or a progress bar on stderr.

use crate::cli::TrainArgs;
use anyhow::Result;
use gradboard::data::Cifar10;
use gradboard::events::{Event, EventSink, RunStatus};
use gradboard::runs::{new_run_id, RunWriter};
use gradboard::session::{Command, Session};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// Shows the run on the terminal: JSON lines on stdout, or a progress bar on stderr.
struct Printer {
    json: bool,
    bar: ProgressBar,
    last_test_acc: Option<f64>,
}

impl EventSink for Printer {
    fn emit(&mut self, event: &Event) -> gradboard::Result<()> {
        if self.json {
            let mut out = std::io::stdout().lock();
            // A closed stdout (e.g. `| head`) must not end the run: the store still records it.
            let _ = writeln!(out, "{}", event.to_json()).and_then(|_| out.flush());
        }
        match event {
            Event::Start { config, .. } => self.bar.set_length(config.steps as u64),
            Event::Train { step, loss, .. } => {
                self.bar.set_position(*step as u64);
                let acc = self
                    .last_test_acc
                    .map(|a| format!("{a:.4}"))
                    .unwrap_or_else(|| "-".into());
                self.bar
                    .set_message(format!("loss {loss:.4} test acc {acc}"));
            }
            Event::Eval { test_acc, .. } => self.last_test_acc = Some(*test_acc),
            Event::Done { .. } => self.bar.finish_and_clear(),
            Event::Paused { .. } => {}
        }
        Ok(())
    }
}

/// Trains one run to the end and prints its summary.
pub fn run(args: TrainArgs) -> Result<ExitCode> {
    let (preset, config) = super::load_config(&args.preset, &args.overrides)?;
    let path = crate::data_setup::ensure_data(args.data.as_deref())?;
    let data = Cifar10::load(&path)?;
    let run_id = new_run_id(&preset);
    let mut writer = RunWriter::create(&args.runs_dir, &run_id, &config)?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(config.steps as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  ETA {eta}")
                .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut printer = Printer {
        json: args.json,
        bar,
        last_test_acc: None,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let _ = ctrlc::set_handler(move || {
        let _ = tx.send(Command::Stop);
    });
    let session = Session {
        run_id: run_id.clone(),
        config,
        data: &data,
        weights_path: Some(writer.weights_path()),
        commands: Some(rx),
    };
    let mut sink = |event: &Event| -> gradboard::Result<()> {
        writer.emit(event)?;
        printer.emit(event)
    };
    let summary = gradboard::on_compute_pool(|| session.run(&mut sink))?;
    let line = format!(
        "run {run_id} {}: step {}, test acc {:.4} (best {:.4}), {:.1} s; saved in {}",
        summary.status.as_str(),
        summary.step,
        summary.final_test_acc,
        summary.best_test_acc,
        summary.seconds,
        args.runs_dir.join(&run_id).display()
    );
    if args.json {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
    Ok(match summary.status {
        RunStatus::Completed => ExitCode::SUCCESS,
        RunStatus::Stopped => ExitCode::from(130),
        RunStatus::Diverged | RunStatus::Failed => {
            eprintln!(
                "error: run {}: {}",
                summary.status.as_str(),
                summary.reason.unwrap_or_default()
            );
            ExitCode::from(1)
        }
    })
}
