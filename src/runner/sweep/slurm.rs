//! Sweeps on a SLURM cluster: the sweep's folder is written here, then one array job runs it,
//! one task a run (`gradboard sweep trial DIR --index I`), into the runs folder that holds the
//! sweep (a file system every node sees). A task asks for a signal before its time limit,
//! stops its run there (checkpoint and `done` stopped) and asks SLURM to requeue it; the
//! requeued task resumes the same run. `squeue` tells which tasks wait or run; `scancel` ends
//! the job.

use super::folder::{SweepFolder, JOB_SCRIPT, SLURM_FILE};
use super::trial::SweepCore;
use crate::config::sweep::SweepPlan;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Seconds before the time limit at which SLURM signals a task (USR1) to stop and requeue.
pub const SIGNAL_BEFORE: u32 = 120;

/// The array job that runs a sweep (`slurm.json` in its folder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlurmJob {
    /// The job id `sbatch` gave.
    pub job_id: String,
    /// Tasks: `0-(N-1)%K`.
    pub array: String,
    /// Unix seconds of the submission.
    pub submitted: f64,
}

/// How to submit: concurrency, extra `sbatch` options, the threads a task trains with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlurmOptions {
    /// Tasks at once (the array's `%K`).
    pub parallel: usize,
    /// Options for `sbatch` (partition, time, memory, GPUs...), each a `#SBATCH` line.
    pub sbatch: Vec<String>,
    /// CPU threads a task trains with (its `--cpus-per-task` unless the options say).
    pub threads: usize,
    /// The data set every task reads (a path every node sees); none for a command sweep.
    pub data: Option<PathBuf>,
    /// The gradboard binary every task runs (a path every node sees).
    pub exe: PathBuf,
}

/// A sweep handed to SLURM (or, on a dry run, the script it would have been).
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The sweep's id, when its folder was written.
    pub id: Option<String>,
    /// Its folder.
    pub dir: PathBuf,
    /// The job script.
    pub script: String,
    /// The job, when submitted.
    pub job: Option<SlurmJob>,
}

/// `path` made absolute (tasks run elsewhere, from another working folder).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The job script of a sweep in `dir` with `trials` runs.
pub fn job_script(name: &str, dir: &Path, trials: usize, o: &SlurmOptions) -> String {
    let dir = absolute(dir);
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!("#SBATCH --job-name=gradboard-{name}\n"));
    s.push_str(&format!(
        "#SBATCH --array=0-{}%{}\n",
        trials.saturating_sub(1),
        o.parallel.max(1)
    ));
    s.push_str(&format!(
        "#SBATCH --output={}/slurm/%A_%a.out\n",
        dir.display()
    ));
    s.push_str("#SBATCH --requeue\n");
    s.push_str(&format!("#SBATCH --signal=B:USR1@{SIGNAL_BEFORE}\n"));
    if !o
        .sbatch
        .iter()
        .any(|a| a.starts_with("--cpus-per-task") || a.starts_with("-c"))
    {
        s.push_str(&format!("#SBATCH --cpus-per-task={}\n", o.threads.max(1)));
    }
    for arg in &o.sbatch {
        s.push_str(&format!("#SBATCH {arg}\n"));
    }
    s.push_str(
        "# One run of the sweep a task: claimed in the sweep folder, resumed after a requeue.\n",
    );
    if let Some(data) = &o.data {
        s.push_str(&format!(
            "export GRADBOARD_DATA={}\n",
            quote(&absolute(data))
        ));
    }
    s.push_str(&format!(
        "exec {} --threads \"${{SLURM_CPUS_PER_TASK:-1}}\" sweep trial {} --index \"$SLURM_ARRAY_TASK_ID\"\n",
        quote(&absolute(&o.exe)),
        quote(&dir)
    ));
    s
}

/// Writes the sweep's folder and submits its array job; a dry run writes and submits nothing
/// and returns the script.
pub fn submit(
    runs_dir: &Path,
    plan: SweepPlan,
    o: &SlurmOptions,
    dry_run: bool,
) -> Result<Submitted> {
    let trials = plan.trials();
    if dry_run {
        let dir = absolute(runs_dir)
            .join(super::SWEEPS_DIR)
            .join(format!("<time>-sweep-{}-<id>", plan.spec.name));
        return Ok(Submitted {
            id: None,
            script: job_script(&plan.spec.name, &dir, trials, o),
            dir,
            job: None,
        });
    }
    let name = plan.spec.name.clone();
    let core = SweepCore::create(runs_dir, plan, None)?;
    let dir = core.folder.dir().to_path_buf();
    let script = job_script(&name, &dir, trials, o);
    let path = dir.join(JOB_SCRIPT);
    let submitted = crate::files::write_text_atomically(&path, &script)
        .and_then(|()| crate::files::create_folder(&dir.join("slurm")))
        .and_then(|()| sbatch(&path));
    // A sweep no job runs is no sweep: its folder goes with the failed submission.
    let text = match submitted {
        Ok(text) => text,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    let job_id = text.trim().split(';').next().unwrap_or("").to_string();
    let job = SlurmJob {
        job_id,
        array: format!("0-{}%{}", trials.saturating_sub(1), o.parallel.max(1)),
        submitted: crate::events::unix_now(),
    };
    let json = serde_json::to_string_pretty(&job).unwrap_or_default();
    crate::files::write_text_atomically(&dir.join(SLURM_FILE), &json)?;
    core.write_results(Default::default());
    Ok(Submitted {
        id: Some(core.id.clone()),
        dir,
        script,
        job: Some(job),
    })
}

/// Submits the job script at `path`; sbatch's `--parsable` answer.
fn sbatch(path: &Path) -> Result<String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(path)
        .output()
        .map_err(|e| Error::Other(format!("cannot run sbatch: {e} (is SLURM installed here?)")))?;
    if !out.status.success() {
        return Err(Error::Other(format!(
            "sbatch refused the job: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The job that runs the sweep in `folder`, when a cluster runs it.
pub fn job_of(folder: &SweepFolder) -> Option<SlurmJob> {
    let text = std::fs::read_to_string(folder.dir().join(SLURM_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// What `squeue` says of the job's tasks: each task index and its state (`PENDING`,
/// `RUNNING`, ...); `None` when `squeue` cannot be asked (not here, or it does not answer
/// within five seconds).
pub fn task_states(job: &SlurmJob) -> Option<HashMap<usize, String>> {
    let out = Command::new("timeout")
        .args(["5", "squeue", "-h", "-r", "-j", &job.job_id, "-o", "%K %T"])
        .output()
        .ok()?;
    if !out.status.success() {
        // A job SLURM no longer knows (ended long ago) has no tasks.
        let err = String::from_utf8_lossy(&out.stderr);
        return err.contains("Invalid job id").then(HashMap::new);
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (index, state) = l.trim().split_once(' ')?;
                Some((index.parse().ok()?, state.to_string()))
            })
            .collect(),
    )
}

/// Ends the job (`scancel`): its running tasks get SIGTERM and stop their runs cleanly.
pub fn cancel(job: &SlurmJob) -> Result<()> {
    let out = Command::new("scancel")
        .arg(&job.job_id)
        .output()
        .map_err(|e| Error::Other(format!("cannot run scancel: {e}")))?;
    if !out.status.success() {
        return Err(Error::Other(format!(
            "scancel {}: {}",
            job.job_id,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Asks SLURM to requeue this task (its environment names it); the requeued task resumes.
pub fn requeue_this_task() -> Result<()> {
    let task = match (
        std::env::var("SLURM_ARRAY_JOB_ID"),
        std::env::var("SLURM_ARRAY_TASK_ID"),
    ) {
        (Ok(job), Ok(task)) => format!("{job}_{task}"),
        _ => std::env::var("SLURM_JOB_ID")
            .map_err(|_| Error::Other("not a SLURM task: nothing to requeue".into()))?,
    };
    let out = Command::new("scontrol")
        .args(["requeue", &task])
        .output()
        .map_err(|e| Error::Other(format!("cannot run scontrol: {e}")))?;
    if !out.status.success() {
        return Err(Error::Other(format!(
            "scontrol requeue {task}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_script_is_one_array_with_a_signal_before_the_limit_and_requeue() {
        let o = SlurmOptions {
            parallel: 2,
            sbatch: vec!["--partition=gpu".into(), "--gres=gpu:1".into()],
            threads: 4,
            data: Some("/shared/cifar.tar.gz".into()),
            exe: "/opt/gradboard".into(),
        };
        let s = job_script("grid", Path::new("/shared/runs/sweeps/x"), 6, &o);
        for line in [
            "#SBATCH --array=0-5%2",
            "#SBATCH --requeue",
            "#SBATCH --signal=B:USR1@120",
            "#SBATCH --cpus-per-task=4",
            "#SBATCH --partition=gpu",
            "#SBATCH --gres=gpu:1",
            "#SBATCH --output=/shared/runs/sweeps/x/slurm/%A_%a.out",
            "export GRADBOARD_DATA='/shared/cifar.tar.gz'",
            "exec '/opt/gradboard' --threads \"${SLURM_CPUS_PER_TASK:-1}\" sweep trial '/shared/runs/sweeps/x' --index \"$SLURM_ARRAY_TASK_ID\"",
        ] {
            assert!(s.lines().any(|l| l == line), "{line} in\n{s}");
        }
        let own = SlurmOptions {
            sbatch: vec!["--cpus-per-task=8".into()],
            ..o
        };
        assert_eq!(
            job_script("g", Path::new("/d"), 1, &own)
                .matches("cpus-per-task")
                .count(),
            1
        );
    }
}
