//! `gradboard analyze RUN_DIR`: a run's saved model on the test set: the confusion matrix
//! (row = true class), per-class accuracy, precision and recall, and the classes it mixes up
//! most; `--json` for one object with `confusion`, `classes`, `accuracy` and `count`.

use anyhow::Result;
use gradboard::analysis::{analyze_run, Analysis};
use gradboard::model::Compute;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `gradboard analyze`.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// The run folder (runs/<run-id>).
    pub run_dir: PathBuf,
    /// The data set: the .tar.gz archive or the extracted folder.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// One JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// The analysis as text tables.
pub fn render(a: &Analysis) -> String {
    let k = a.k();
    let name = |c: usize| a.names.get(c).cloned().unwrap_or_else(|| c.to_string());
    let short = |c: usize| name(c).chars().take(5).collect::<String>();
    let mut out = format!(
        "test accuracy {:.4} on {} images\n\nconfusion (row = true class, column = predicted)\n{:>11}",
        a.accuracy(),
        a.count(),
        ""
    );
    for c in 0..k {
        out.push_str(&format!("{:>6}", short(c)));
    }
    out.push('\n');
    for (r, row) in a.confusion.iter().enumerate() {
        out.push_str(&format!("{:>11}", name(r)));
        for v in row {
            out.push_str(&format!("{v:>6}"));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "\n{:>11}  {:>8}  {:>9}  {:>6}\n",
        "class", "accuracy", "precision", "recall"
    ));
    for (c, f) in a.classes.iter().enumerate() {
        out.push_str(&format!(
            "{:>11}  {:>8.3}  {:>9.3}  {:>6.3}\n",
            name(c),
            f.accuracy,
            f.precision,
            f.recall
        ));
    }
    let mut mixups: Vec<(usize, usize, usize)> = (0..k)
        .flat_map(|r| (0..k).filter(move |&p| p != r).map(move |p| (r, p)))
        .map(|(r, p)| (a.confusion[r][p], r, p))
        .collect();
    mixups.sort_by(|x, y| y.cmp(x));
    out.push_str("\nmost confused: ");
    let top: Vec<String> = mixups
        .iter()
        .take(3)
        .map(|(n, r, p)| format!("{} as {} ({n})", name(*r), name(*p)))
        .collect();
    out.push_str(&top.join(", "));
    out.push('\n');
    out
}

/// Analyses the run and prints the result.
pub fn run(args: AnalyzeArgs, compute: Compute) -> Result<ExitCode> {
    let path = crate::data_setup::ensure_data(args.data.as_deref())?;
    // The data read as the run read it (its size, channels, labels).
    let config = gradboard::runs::StoredRun::load(&args.run_dir)?
        .state()
        .config;
    let data = crate::data_setup::load_data(&path, &config.data_options())?;
    let (step, analysis) =
        gradboard::on_compute_pool(|| analyze_run(&args.run_dir, &data, &compute, &|| false))?
            .expect("an analysis that is never stopped ends");
    if !args.json {
        println!("weights of step {step}");
    }
    if args.json {
        println!("{}", analysis.to_json());
    } else {
        print!("{}", render(&analysis));
    }
    Ok(ExitCode::SUCCESS)
}
