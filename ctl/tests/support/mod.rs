//! Support for peerctl's end-to-end tests: the real `peerd server`, real
//! `peerd start` daemons and the real `peerctl`, each daemon in a temp dir
//! of its own, waits by polling with a deadline, children killed on `Drop`,
//! and `peerctl` on a pseudo-terminal through `rexpect`.
//!
//! `peerd` is found next to `peerctl` (`target/<profile>/peerd`); it is
//! built by `cargo test --workspace` or `cargo build -p peerd`.

#![allow(dead_code)]

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(20);

/// The `peerctl` binary under test.
pub fn peerctl_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_peerctl"))
}

/// The `peerd` binary, next to `peerctl`.
pub fn peerd_bin() -> PathBuf {
    let path = peerctl_bin().with_file_name("peerd");
    assert!(
        path.exists(),
        "peerd is not built at {}: run `cargo build -p peerd` first \
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

/// Text a child writes to a pipe, collected by a thread. The end of the
/// pipe, not the exit of the child, says that all of it was read: a child
/// can exit before the thread has taken its last bytes.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Pipe>>);

#[derive(Default)]
struct Pipe {
    bytes: Vec<u8>,
    /// The pipe is closed and read to the end.
    closed: bool,
}

impl Captured {
    fn collect(mut stream: impl Read + Send + 'static) -> Self {
        let captured = Self::default();
        let sink = captured.0.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stream.read(&mut buf) {
                sink.lock()
                    .expect("lock")
                    .bytes
                    .extend_from_slice(&buf[..n]);
            }
            sink.lock().expect("lock").closed = true;
        });
        captured
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock").bytes).into_owned()
    }

    /// Whether the pipe is closed and everything in it was read.
    pub fn is_closed(&self) -> bool {
        self.0.lock().expect("lock").closed
    }

    /// Waits until the text contains `needle`; returns all of it.
    pub fn wait_for(&self, needle: &str) -> String {
        poll(&format!("{needle:?} in {:?}", self.text()), || {
            let text = self.text();
            text.contains(needle).then_some(text)
        })
    }
}

/// A child process with captured stdout and stderr, killed on `Drop`.
pub struct Proc {
    child: Child,
    pub stdout: Captured,
    pub stderr: Captured,
}

impl Proc {
    pub fn spawn(cmd: &mut Command) -> Self {
        let mut child = cmd
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stdout = Captured::collect(child.stdout.take().expect("stdout"));
        let stderr = Captured::collect(child.stderr.take().expect("stderr"));
        Self {
            child,
            stdout,
            stderr,
        }
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid")
    }

    /// Waits for the child to exit on its own, and for its output to be
    /// read to the end (so that `stdout.text()` is all of it).
    pub fn wait(&mut self) -> ExitStatus {
        let status = poll("the process to exit", || {
            self.child.try_wait().ok().flatten()
        });
        poll("the end of the process's output", || {
            (self.stdout.is_closed() && self.stderr.is_closed()).then_some(())
        });
        status
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid, which it cannot outlive
        // unreaped.
        assert_eq!(unsafe { libc::kill(self.pid(), sig) }, 0, "kill {sig}");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A finished `peerctl` run.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts exit 0; returns stdout.
    pub fn ok(self) -> String {
        assert_eq!(self.code, Some(0), "peerctl failed: {self:?}");
        self.stdout
    }

    /// stdout as the single JSON object it must be.
    pub fn json(&self) -> serde_json::Value {
        assert_eq!(self.stdout.lines().count(), 1, "one line: {self:?}");
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

/// A `peerctl` command with a clean environment: no PEERD_* variables,
/// times in UTC unless the test sets TZ.
pub fn peerctl_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(peerctl_bin());
    cmd.args(args)
        .env_remove("PEERD_SOCKET")
        .env_remove("PEERD_DATA_DIR")
        .env_remove("PEERD_CONFIG")
        .env_remove("COLUMNS")
        .env("TZ", "UTC");
    cmd
}

/// Runs `cmd` to completion with `input` on stdin.
pub fn run(cmd: &mut Command, input: &str) -> Run {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn peerctl");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_string();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().expect("peerctl output");
    let _ = writer.join();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A `peerd server` on 127.0.0.1 with a free port.
pub struct Server {
    pub addr: SocketAddr,
    pub proc: Proc,
}

impl Server {
    pub fn start(dir: &Path) -> Self {
        let proc = Proc::spawn(
            Command::new(peerd_bin())
                .args(["server", "--listen", "127.0.0.1:0", "--db"])
                .arg(dir.join("registry.sqlite3"))
                .env("RUST_LOG", "info"),
        );
        let addr = poll("the server's `listening on ADDR`", || {
            let log = proc.stderr.text();
            let rest = &log[log.find("listening on ")? + "listening on ".len()..];
            let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))?;
            rest[..end].parse().ok()
        });
        Self { addr, proc }
    }
}

/// A `peerd start` daemon with its own data dir.
pub struct Daemon {
    pub dir: PathBuf,
    pub server: SocketAddr,
    pub proc: Proc,
}

impl Daemon {
    /// Starts a daemon and waits until it has an id.
    pub fn start(dir: &Path, server: SocketAddr) -> Self {
        let daemon = Self::spawn(dir, server);
        daemon.wait_listening();
        daemon.ctl(&["--timeout", "30s", "id"]).ok();
        daemon
    }

    /// Starts a daemon without waiting.
    pub fn spawn(dir: &Path, server: SocketAddr) -> Self {
        let proc = Proc::spawn(
            Command::new(peerd_bin())
                .args(["start", "--listen", "127.0.0.1:0", "--server"])
                .arg(server.to_string())
                .arg("--data-dir")
                .arg(dir)
                .env_remove("PEERD_SOCKET")
                .env_remove("PEERD_CONFIG")
                .env_remove("PEERD_SERVER")
                .env_remove("PEERD_LISTEN")
                .env("RUST_LOG", "info"),
        );
        Self {
            dir: dir.to_path_buf(),
            server,
            proc,
        }
    }

    /// Waits until the daemon answers on its control socket.
    pub fn wait_listening(&self) {
        poll("the daemon to answer on its socket", || {
            (self.ctl(&["status"]).code == Some(0)).then_some(())
        });
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("peerd.sock")
    }

    /// `peerctl --data-dir DIR ARGS...` as a command to adjust.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = peerctl_command(&["--data-dir", self.dir.to_str().expect("utf-8")]);
        cmd.args(args);
        cmd
    }

    /// `peerctl --data-dir DIR ARGS...` to completion.
    pub fn ctl(&self, args: &[&str]) -> Run {
        run(&mut self.command(args), "")
    }

    /// Like [`Daemon::ctl`] with `input` on stdin.
    pub fn ctl_input(&self, args: &[&str], input: &str) -> Run {
        run(&mut self.command(args), input)
    }

    /// A `peerctl` that keeps running (e.g. `inbox --follow`).
    pub fn ctl_spawn(&self, args: &[&str]) -> Proc {
        Proc::spawn(&mut self.command(args))
    }

    /// `peerctl stop`, then waits for the daemon to exit.
    pub fn stop(&mut self) -> ExitStatus {
        self.ctl(&["stop"]).ok();
        self.proc.wait()
    }

    /// The same data dir again, after a stop.
    pub fn restart(&mut self) {
        self.proc = Daemon::start(&self.dir, self.server).proc;
    }
}

/// A temp dir with a server and `n` registered daemons (ids 1..=n).
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

/// `peerctl ARGS` on a pseudo-terminal of `cols` columns (set with stty
/// before peerctl starts), with TERM=xterm; escape sequences are stripped
/// from what the test reads.
pub fn on_terminal(cmd: &Command, cols: u16) -> rexpect::session::PtySession {
    let program = cmd.get_program().to_str().expect("utf-8 program");
    let mut script = format!("stty cols {cols} rows 40 && exec '{program}'");
    for arg in cmd.get_args() {
        script.push_str(&format!(" '{}'", arg.to_str().expect("utf-8 arg")));
    }
    let mut sh = Command::new("sh");
    sh.args(["-c", &script]);
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => sh.env(key, v),
            None => sh.env_remove(key),
        };
    }
    sh.env("TERM", "xterm");
    let options = rexpect::reader::Options::new()
        .timeout_ms(Some(DEADLINE.as_millis() as u64))
        .strip_ansi_escape_codes(true);
    rexpect::session::spawn_with_options(sh, options).expect("spawn on a pseudo-terminal")
}
