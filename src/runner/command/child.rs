//! A trial's process: started in a process group of its own with the trial's environment, its
//! stdout read line by line (and kept in the run folder), its stderr kept in the run folder;
//! paused and continued as a group; stopped with SIGTERM, then SIGKILL after a grace; and at
//! its end, whatever it started is ended too: its group, and any process that still carries
//! the trial's token in its environment (a daemon that left the group).

use crate::{Error, Result};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

/// The file a trial's stdout is kept in.
pub const STDOUT_FILE: &str = "stdout.log";
/// The file a trial's stderr is kept in.
pub const STDERR_FILE: &str = "stderr.log";
/// The environment variable that marks every process of one trial.
pub const TOKEN_ENV: &str = "GRADBOARD_TRIAL_TOKEN";

/// A started trial process.
pub struct TrialProcess {
    child: Child,
    /// Its process group (its own pid).
    pgid: i32,
    token: String,
    /// Its stdout lines as they come.
    pub lines: Receiver<String>,
    /// When a SIGTERM was sent, for the SIGKILL after the grace.
    terminated: Option<Instant>,
    dir: PathBuf,
}

impl TrialProcess {
    /// Starts `argv` in `dir`'s trial: its own process group, `env` added to this process's
    /// environment with the trial's token, stdin empty, stdout and stderr appended to the run
    /// folder's logs.
    pub fn start(
        argv: &[String],
        env: &[(String, String)],
        workdir: Option<&Path>,
        dir: &Path,
        token: &str,
    ) -> Result<Self> {
        use std::os::unix::process::CommandExt;
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(STDERR_FILE))
            .map_err(|e| Error::io(dir.join(STDERR_FILE), e))?;
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env(TOKEN_ENV, token)
            // Python buffers a pipe's output; its key=value lines should arrive as printed.
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .process_group(0);
        if let Some(w) = workdir {
            command.current_dir(w);
        }
        // Killed outright (kill -9, a lost node), gradboard cannot end its trials: the kernel
        // tells the program with SIGTERM when the thread that started it is gone.
        let parent = std::process::id() as i32;
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                if libc::getppid() != parent {
                    libc::raise(libc::SIGTERM);
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| Error::Other(format!("cannot start {}: {e}", argv[0])))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(STDOUT_FILE))
            .map_err(|e| Error::io(dir.join(STDOUT_FILE), e))?;
        // Detached: a process that escaped its group could hold the pipe open past the end.
        std::thread::Builder::new()
            .name("gradboard-trial-stdout".into())
            .spawn(move || copy_lines(stdout, log, tx))
            .map_err(|e| Error::Other(format!("cannot start a thread: {e}")))?;
        Ok(TrialProcess {
            pgid: child.id() as i32,
            child,
            token: token.to_string(),
            lines: rx,
            terminated: None,
            dir: dir.to_path_buf(),
        })
    }

    /// Its exit, once it has exited (reaped).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops or continues the whole group.
    pub fn pause(&self, paused: bool) {
        signal_group(
            self.pgid,
            if paused { libc::SIGSTOP } else { libc::SIGCONT },
        );
    }

    /// Asks the group to end (SIGTERM, after a SIGCONT so a paused group hears it); the
    /// SIGKILL follows from `tick` after `grace`.
    pub fn terminate(&mut self) {
        if self.terminated.is_none() {
            signal_group(self.pgid, libc::SIGCONT);
            signal_group(self.pgid, libc::SIGTERM);
            self.terminated = Some(Instant::now());
        }
    }

    /// Sends the SIGKILL once `grace` has passed since the SIGTERM.
    pub fn tick(&mut self, grace: Duration) {
        if self.terminated.is_some_and(|t| t.elapsed() >= grace) {
            signal_group(self.pgid, libc::SIGKILL);
        }
    }

    /// Ends everything the trial started and is still running: its group and every process
    /// with its token, SIGTERM first and SIGKILL after `grace`. Returns how many processes it
    /// found left over.
    pub fn end_leftovers(&mut self, grace: Duration) -> usize {
        let left = |me: &Self| {
            let mut pids = tokened(&me.token);
            if group_alive(me.pgid) {
                pids.push(-me.pgid);
            }
            pids
        };
        let found = left(self);
        if found.is_empty() {
            return 0;
        }
        let count = found.len();
        for sig in [libc::SIGCONT, libc::SIGTERM] {
            signal_group(self.pgid, sig);
            for &pid in found.iter().filter(|&&p| p > 0) {
                // SAFETY: kill(2) with a pid this trial's token named.
                unsafe { libc::kill(pid, sig) };
            }
        }
        let since = Instant::now();
        while since.elapsed() < grace && !left(self).is_empty() {
            std::thread::sleep(Duration::from_millis(50));
        }
        for pid in left(self) {
            match pid < 0 {
                true => signal_group(-pid, libc::SIGKILL),
                // SAFETY: as above.
                false => unsafe {
                    libc::kill(pid, libc::SIGKILL);
                },
            }
        }
        let _ = self.child.try_wait();
        count
    }

    /// The last `n` lines of its stderr, joined with " | ".
    pub fn stderr_tail(&self, n: usize) -> String {
        let text = std::fs::read(self.dir.join(STDERR_FILE)).unwrap_or_default();
        let text = String::from_utf8_lossy(&text[text.len().saturating_sub(4096)..]).into_owned();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(n)..]
            .iter()
            .map(|l| l.trim().chars().take(200).collect::<String>())
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

impl Drop for TrialProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() || group_alive(self.pgid) {
            signal_group(self.pgid, libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

fn copy_lines(stdout: std::process::ChildStdout, mut log: std::fs::File, tx: Sender<String>) {
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let _ = log.write_all(&line);
                let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
            }
        }
    }
}

fn signal_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: killpg(2) on the group this trial made; a gone group is ESRCH.
        unsafe { libc::killpg(pgid, sig) };
    }
}

/// Whether a live process (not a zombie waiting to be reaped) is left in group `pgid`.
fn group_alive(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks that the group exists.
    if pgid <= 1 || unsafe { libc::killpg(pgid, 0) } != 0 {
        return false;
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .any(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // "pid (comm) state ppid pgrp ...": the name may hold spaces and parentheses.
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
            fields.len() > 2 && fields[0] != "Z" && fields[2].parse::<i32>() == Ok(pgid)
        })
}

/// Processes other than this one whose environment carries `token` (live ones: a zombie's
/// environment reads empty).
fn tokened(token: &str) -> Vec<i32> {
    let needle = format!("{TOKEN_ENV}={token}");
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()))
        })
        .collect()
}

/// An exit in words: "exited with status 2", "killed by signal 9 (SIGKILL)".
pub fn exit_text(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig} ({})", signal_name(sig)),
        _ => "ended".into(),
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGINT => "SIGINT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}
