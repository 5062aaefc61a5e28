//! A child process started inside a namespace, with its output captured
//! line by line, killed and reaped on drop.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::error::{LabError, Result};

/// Output lines kept per process (older ones are dropped).
const MAX_LINES: usize = 20_000;
/// Lines of output printed when a test panics while the process is alive.
const TAIL_ON_PANIC: usize = 60;

#[derive(Default)]
struct Output {
    lines: Vec<String>,
    /// Streams (stdout, stderr) still open.
    open: usize,
}

/// A running child process; killed (SIGKILL) and reaped when dropped.
pub struct Spawned {
    name: String,
    child: Child,
    output: Arc<(Mutex<Output>, Condvar)>,
    readers: Vec<JoinHandle<()>>,
}

impl Spawned {
    /// Spawns `cmd` with stdout and stderr captured; `name` labels its log.
    pub fn start(mut cmd: Command, name: &str) -> Result<Self> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("NO_COLOR", "1");
        let mut child = cmd
            .spawn()
            .map_err(|e| LabError::io(format!("cannot spawn {name}: {cmd:?}"), e))?;
        let output = Arc::new((Mutex::new(Output::default()), Condvar::new()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(reader(out, Arc::clone(&output)));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(reader(err, Arc::clone(&output)));
        }
        Ok(Self {
            name: name.to_owned(),
            child,
            output,
            readers,
        })
    }

    /// The child's pid (the program itself: `ip netns exec` execs it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The label given at start.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every line printed so far (stdout and stderr interleaved), without
    /// terminal colour codes.
    pub fn lines(&self) -> Vec<String> {
        lock(&self.output.0).lines.clone()
    }

    /// Waits until a line satisfying `pred` has been printed and returns it;
    /// fails at the deadline or as soon as the process closed its output.
    pub fn wait_for_line(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        let (lock_, cond) = &*self.output;
        let mut out = lock(lock_);
        loop {
            if let Some(line) = out.lines.iter().find(|l| pred(l)) {
                return Ok(line.clone());
            }
            let now = Instant::now();
            if out.open == 0 || now >= deadline {
                let why = if out.open == 0 { "exited" } else { "timed out" };
                let tail = tail(&out.lines, 20);
                return Err(LabError::Timeout(format!(
                    "{} {why} before printing the expected line; last output:\n{tail}",
                    self.name
                )));
            }
            out = cond
                .wait_timeout(out, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the process to exit by itself, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10)); // poll interval
                }
                Ok(None) => return Err(LabError::Timeout(format!("{} did not exit", self.name))),
                Err(e) => return Err(LabError::io(format!("wait for {}", self.name), e)),
            }
        }
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let running = self.is_running();
        self.kill();
        if std::thread::panicking() || (running && std::env::var_os("LAB_VERBOSE").is_some()) {
            let out = lock(&self.output.0);
            let saved = save_log(&self.name, &out.lines)
                .map_or_else(|e| format!("(not saved: {e})"), |p| p.display().to_string());
            eprintln!(
                "--- last output of {} (full log: {saved}) ---\n{}",
                self.name,
                tail(&out.lines, TAIL_ON_PANIC)
            );
        }
    }
}

fn reader(
    stream: impl Read + Send + 'static,
    output: Arc<(Mutex<Output>, Condvar)>,
) -> JoinHandle<()> {
    lock(&output.0).open += 1;
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut stream = BufReader::new(stream);
        while matches!(stream.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
            let line = strip_ansi(&String::from_utf8_lossy(&buf));
            buf.clear();
            let mut out = lock(&output.0);
            if out.lines.len() >= MAX_LINES {
                out.lines.remove(0);
            }
            out.lines.push(line.trim_end().to_owned());
            output.1.notify_all();
        }
        lock(&output.0).open -= 1;
        output.1.notify_all();
    })
}

/// Writes a process's whole output to
/// `$TMPDIR/peerdlab-logs/<test pid>/<label>.log` for a failed test.
fn save_log(name: &str, lines: &[String]) -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir()
        .join("peerdlab-logs")
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
    let path = dir.join(format!("{file}.log"));
    std::fs::write(&path, lines.join("\n") + "\n")?;
    Ok(path)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn tail(lines: &[String], n: usize) -> String {
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Removes terminal escape sequences (`ESC [ ... letter`).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
