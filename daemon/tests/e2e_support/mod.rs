//! Support for the end-to-end tests: start the real `peerd server`, real
//! `peerd start` daemons and the real `peerctl` binary in a temp dir each,
//! wait by polling with a deadline, and kill every child process on `Drop`.
//!
//! `peerctl` is found next to `peerd` (`target/<profile>/peerctl`); it is
//! built by `cargo test --workspace` or `cargo build -p peerctl`.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait in these tests may take before it fails.
pub const DEADLINE: Duration = Duration::from_secs(30);
/// Pause between two polls.
const POLL: Duration = Duration::from_millis(20);

/// The `peerd` binary under test.
pub fn peerd_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_peerd"))
}

/// The `peerctl` binary, next to `peerd`.
pub fn peerctl_bin() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_peerd")).with_file_name("peerctl");
    assert!(
        path.exists(),
        "peerctl is not built at {}: run `cargo build -p peerctl` first \
         (or run the tests with `cargo test --workspace`, which builds it)",
        path.display()
    );
    path
}

/// Polls `f` until it returns `Some`, panicking with `what` after [`DEADLINE`].
pub fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        thread::sleep(POLL);
    }
}

/// Text captured from a child's stdout or stderr, shared with its reader thread.
#[derive(Clone, Default)]
pub struct Captured {
    bytes: Arc<Mutex<Vec<u8>>>,
    /// Set by the reader thread once the pipe is closed and read to the end.
    done: Arc<Mutex<bool>>,
}

impl Captured {
    fn collect(stream: impl Read + Send + 'static) -> Self {
        let captured = Self::default();
        let sink = captured.clone();
        thread::spawn(move || {
            // Chunks, not lines: prompts such as `choice> ` end without a newline.
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stream.read(&mut buf) {
                sink.bytes
                    .lock()
                    .expect("capture lock")
                    .extend_from_slice(&buf[..n]);
            }
            *sink.done.lock().expect("capture lock") = true;
        });
        captured
    }

    /// Waits until the pipe is closed and everything in it was read, at
    /// most a few seconds (a grandchild may keep the pipe open).
    fn drain(&self) {
        let start = Instant::now();
        while !*self.done.lock().expect("capture lock") && start.elapsed() < Duration::from_secs(5)
        {
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().expect("capture lock")).into_owned()
    }

    /// Waits until the captured text contains `needle`.
    pub fn wait_for(&self, needle: &str) -> String {
        poll(&format!("{needle:?} in {:?}", self.text()), || {
            let text = self.text();
            text.contains(needle).then_some(text)
        })
    }
}

/// A running child process, killed on `Drop`.
pub struct Proc {
    pub name: String,
    child: Child,
    pub stdin: Option<ChildStdin>,
    pub stdout: Captured,
    pub stderr: Captured,
}

impl Proc {
    /// Spawns `cmd` with piped stdio (and `NO_COLOR` so logs are plain text).
    pub fn spawn(name: &str, cmd: &mut Command) -> Self {
        let mut child = cmd
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = Captured::collect(child.stdout.take().expect("piped stdout"));
        let stderr = Captured::collect(child.stderr.take().expect("piped stderr"));
        Self {
            name: name.into(),
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes `text` to the child's stdin.
    pub fn write_stdin(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin
            .write_all(text.as_bytes())
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("cannot write to {}: {e}", self.name));
    }

    /// Closes the child's stdin (end of input).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Has it exited? Its status if so.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for the child to exit on its own within [`DEADLINE`].
    pub fn wait(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.try_status() {
                self.stdout.drain();
                self.stderr.drain();
                return status;
            }
            if start.elapsed() > DEADLINE {
                let _ = self.child.kill();
                panic!(
                    "{} did not exit within {DEADLINE:?}\nstdout:\n{}\nstderr:\n{}",
                    self.name,
                    self.stdout.text(),
                    self.stderr.text()
                );
            }
            thread::sleep(POLL);
        }
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a finished `peerctl` run left behind.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts exit 0 and returns stdout.
    pub fn ok(self) -> String {
        assert_eq!(self.code, Some(0), "peerctl failed: {self:?}");
        self.stdout
    }

    /// stdout as the one JSON object it must be.
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

/// Runs `peerctl ARGS` to completion (killed after [`DEADLINE`]).
pub fn peerctl(args: &[&str]) -> Run {
    peerctl_with_input(args, "")
}

/// Runs `peerctl ARGS` with `input` on stdin, then end of input.
pub fn peerctl_with_input(args: &[&str], input: &str) -> Run {
    let mut proc = Proc::spawn(
        "peerctl",
        Command::new(peerctl_bin())
            .args(args)
            .env_remove("PEERD_SOCKET")
            .env_remove("PEERD_DATA_DIR"),
    );
    if !input.is_empty() {
        proc.write_stdin(input);
    }
    proc.close_stdin();
    let status = proc.wait();
    Run {
        code: status.code(),
        stdout: proc.stdout.text(),
        stderr: proc.stderr.text(),
    }
}

/// A `peerd server` on 127.0.0.1 with a free port and its own database.
pub struct Server {
    pub addr: SocketAddr,
    pub db: PathBuf,
    pub proc: Proc,
}

impl Server {
    /// Starts a server with its database in `dir` and waits for its address.
    pub fn start(dir: &Path) -> Self {
        Self::start_at(dir, "127.0.0.1:0")
    }

    /// Starts a server listening on `listen` (e.g. the address of a previous run).
    pub fn start_at(dir: &Path, listen: &str) -> Self {
        let db = dir.join("registry.sqlite3");
        let proc = Proc::spawn(
            "peerd server",
            Command::new(peerd_bin())
                .args(["server", "--listen", listen, "--db"])
                .arg(&db)
                .env("RUST_LOG", "info"),
        );
        let addr = poll("the server's `listening on ADDR` log line", || {
            listening_addr(&proc.stderr.text())
        });
        Self { addr, db, proc }
    }
}

/// The address in the first `listening on ADDR` of a log.
pub fn listening_addr(log: &str) -> Option<SocketAddr> {
    log.lines().find_map(|line| {
        let rest = &line[line.find("listening on ")? + "listening on ".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']')))
            .unwrap_or(rest.len());
        rest[..end].parse().ok()
    })
}

/// A `peerd start` daemon in the foreground, with its own data dir.
pub struct Daemon {
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub proc: Proc,
}

impl Daemon {
    /// Starts a daemon with data dir `dir` against `server`, and waits
    /// until it answers on its socket and has an id.
    pub fn start(dir: &Path, server: SocketAddr) -> Self {
        Self::start_with(dir, server, &[])
    }

    /// Like [`Daemon::start`] with extra `peerd start` flags (e.g. `--relay always`).
    pub fn start_with(dir: &Path, server: SocketAddr, extra: &[&str]) -> Self {
        let daemon = Self::spawn_with(dir, &server.to_string(), extra);
        daemon.wait_registered();
        daemon
    }

    /// Starts a daemon without waiting for anything.
    pub fn spawn(dir: &Path, server: &str) -> Self {
        Self::spawn_with(dir, server, &[])
    }

    /// Starts a daemon with extra flags without waiting for anything.
    pub fn spawn_with(dir: &Path, server: &str, extra: &[&str]) -> Self {
        let proc = Proc::spawn(
            &format!("peerd start ({})", dir.display()),
            Command::new(peerd_bin())
                .args(["start", "--listen", "127.0.0.1:0", "--server", server])
                .arg("--data-dir")
                .arg(dir)
                .args(extra)
                .env_remove("PEERD_SOCKET")
                .env_remove("PEERD_CONFIG")
                .env_remove("PEERD_SERVER")
                .env_remove("PEERD_LISTEN")
                .env("RUST_LOG", "info"),
        );
        Self {
            dir: dir.to_path_buf(),
            socket: dir.join("peerd.sock"),
            proc,
        }
    }

    /// `peerctl --data-dir DIR ARGS...`
    pub fn ctl(&self, args: &[&str]) -> Run {
        self.ctl_with_input(args, "")
    }

    /// `peerctl --data-dir DIR ARGS...` with `input` on stdin.
    pub fn ctl_with_input(&self, args: &[&str], input: &str) -> Run {
        let dir = self.dir.to_str().expect("utf-8 temp dir");
        let mut all = vec!["--data-dir", dir];
        all.extend_from_slice(args);
        peerctl_with_input(&all, input)
    }

    /// Waits until `peerctl id` prints a number; returns it.
    pub fn wait_registered(&self) -> u64 {
        poll(
            &format!(
                "{} to register\nits log:\n{}",
                self.proc.name,
                self.proc.stderr.text()
            ),
            || self.ctl(&["id"]).stdout.trim().parse().ok(),
        )
    }

    /// The daemon's id.
    pub fn id(&self) -> u64 {
        self.wait_registered()
    }

    /// A `peerctl ARGS` that keeps running (e.g. `inbox --follow`, `shell`).
    pub fn ctl_spawn(&self, args: &[&str]) -> Proc {
        Proc::spawn(
            &format!("peerctl {}", args.join(" ")),
            Command::new(peerctl_bin())
                .arg("--data-dir")
                .arg(&self.dir)
                .args(args)
                .env_remove("PEERD_SOCKET")
                .env_remove("PEERD_DATA_DIR"),
        )
    }

    /// `peerctl stop`, then waits for the process to exit.
    pub fn stop(&mut self) -> ExitStatus {
        self.ctl(&["stop"]).ok();
        self.proc.wait()
    }
}

/// A temp dir holding a server and `n` registered daemons (ids 1..=n in order).
pub struct Net {
    pub tmp: tempfile::TempDir,
    pub server: Server,
    pub daemons: Vec<Daemon>,
}

impl Net {
    pub fn start(n: usize) -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let server = Server::start(tmp.path());
        let daemons = (1..=n)
            .map(|i| Daemon::start(&tmp.path().join(format!("peer{i}")), server.addr))
            .collect();
        Self {
            tmp,
            server,
            daemons,
        }
    }
}
