//! A child process of a test: started with its output captured, killed
//! (SIGKILL) and reaped on `Drop`. When the test is failing (or, for a
//! process still running, with `LAB_VERBOSE=1`), dropping it prints the end
//! of its output and saves all of it to a file, so every failure comes with
//! the logs of the processes involved.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::output::{tail, Captured};
use super::poll::{Timeout, DEADLINE, POLL};

/// Lines of each stream printed when a test fails while the process lives.
const TAIL_ON_PANIC: usize = 60;
/// How long a finished process's pipes may stay open (held by a grandchild)
/// before its output is taken as complete.
const DRAIN: Duration = Duration::from_secs(5);

/// What a finished process left behind.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Whether it exited with status 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Asserts exit 0 and returns stdout.
    pub fn ok(self) -> String {
        assert_eq!(self.code, Some(0), "the command failed: {self:?}");
        self.stdout
    }

    /// stdout as the one JSON object it must be (`peerctl --json`).
    pub fn json(&self) -> serde_json::Value {
        assert_eq!(
            self.stdout.lines().count(),
            1,
            "--json must print exactly one line: {self:?}"
        );
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

/// A running child process, killed and reaped when dropped.
pub struct Proc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    pub stdout: Captured,
    pub stderr: Captured,
}

impl Proc {
    /// Spawns `cmd` with stdout and stderr captured, stdin empty, and
    /// `NO_COLOR` so logs are plain text; `name` labels it in messages.
    pub fn start(name: &str, cmd: &mut Command) -> std::io::Result<Self> {
        Self::launch(name, cmd.stdin(Stdio::null()))
    }

    /// [`Proc::start`], failing the test when the program cannot start.
    pub fn spawn(name: &str, cmd: &mut Command) -> Self {
        Self::start(name, cmd).unwrap_or_else(|e| panic!("cannot start {name}: {e}"))
    }

    /// Like [`Proc::spawn`] with a pipe to the child's stdin.
    pub fn spawn_interactive(name: &str, cmd: &mut Command) -> Self {
        Self::launch(name, cmd.stdin(Stdio::piped()))
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"))
    }

    fn launch(name: &str, cmd: &mut Command) -> std::io::Result<Self> {
        let mut child = cmd
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdout = Captured::collect(child.stdout.take().expect("piped stdout"));
        let stderr = Captured::collect(child.stderr.take().expect("piped stderr"));
        Ok(Self {
            name: name.to_owned(),
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
        })
    }

    /// The label given at start.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes `text` to the child's stdin.
    pub fn write_stdin(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is a pipe and still open");
        stdin
            .write_all(text.as_bytes())
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("cannot write to {}: {e}", self.name));
    }

    /// Closes the child's stdin (end of input).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The exit status, if the process has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.try_status().is_none()
    }

    /// Waits for the process to exit by itself within `limit`; once it has,
    /// its output is read to the end.
    pub fn wait_within(&mut self, limit: Duration) -> Result<ExitStatus, Timeout> {
        let end = Instant::now() + limit;
        loop {
            if let Some(status) = self.try_status() {
                self.stdout.wait_closed(DRAIN);
                self.stderr.wait_closed(DRAIN);
                return Ok(status);
            }
            if Instant::now() >= end {
                return Err(Timeout(format!("{} to exit (after {limit:?})", self.name)));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits for the process to exit by itself; fails the test after
    /// [`DEADLINE`], with its output.
    pub fn wait(&mut self) -> ExitStatus {
        match self.wait_within(DEADLINE) {
            Ok(status) => status,
            Err(t) => panic!("{t}\n{}", self.output_tail(30)),
        }
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`).
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) on the pid of a child this process started and
        // has not reaped yet (the `Child` is still here), so it is ours.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal}) of {}", self.name);
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The stderr lines (where peerd logs) so far.
    pub fn log(&self) -> Vec<String> {
        self.stderr.lines()
    }

    /// Waits for the process to exit by itself (failing the test after
    /// [`DEADLINE`]); what it printed and how it exited.
    pub fn finish(mut self) -> Run {
        let status = self.wait();
        Run {
            code: status.code(),
            stdout: self.stdout.text(),
            stderr: self.stderr.text(),
        }
    }

    /// Runs `cmd` to completion with stdin empty (killed after [`DEADLINE`]).
    pub fn run(name: &str, cmd: &mut Command) -> Run {
        Self::spawn(name, cmd).finish()
    }

    /// The end of both streams, for failure messages.
    pub fn output_tail(&self, n: usize) -> String {
        format!(
            "--- stdout of {name} ---\n{}\n--- stderr of {name} ---\n{}",
            tail(&self.stdout.text(), n),
            tail(&self.stderr.text(), n),
            name = self.name
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let running = self.is_running();
        self.kill();
        let verbose = running && std::env::var_os("LAB_VERBOSE").is_some();
        if std::thread::panicking() || verbose {
            let saved = save_output(&self.name, &self.stdout.text(), &self.stderr.text())
                .map_or_else(|e| format!("not saved: {e}"), |p| p.display().to_string());
            eprintln!(
                "{}\n(full output: {saved})",
                self.output_tail(TAIL_ON_PANIC)
            );
        }
    }
}

/// Writes a process's output to
/// `$TMPDIR/peerd-test-logs/<test pid>/<n>-<name>.log`.
fn save_output(name: &str, stdout: &str, stderr: &str) -> std::io::Result<PathBuf> {
    static SAVED: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir()
        .join("peerd-test-logs")
        .join(std::process::id().to_string());
    std::fs::create_dir_all(&dir)?;
    let file: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let n = SAVED.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("{n}-{file}.log"));
    std::fs::write(
        &path,
        format!("--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"),
    )?;
    Ok(path)
}
