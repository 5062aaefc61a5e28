//! Helpers of the `peer_*` integration tests: the real `peerd server` and
//! `peerd start` binaries in temporary directories, raw JSON lines on the
//! control socket, polling with a deadline, and every child killed on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long any single wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `f` until it returns `Some`, or panics after `deadline` with `what`.
pub fn wait_for<T>(what: &str, deadline: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn capture(child: &mut Child) -> Arc<Mutex<Vec<String>>> {
    let logs = Arc::new(Mutex::new(Vec::new()));
    if let Some(stderr) = child.stderr.take() {
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("log lock").push(line);
            }
        });
    }
    logs
}

/// A free UDP port on loopback (for a server that starts later).
pub fn free_udp_addr() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind probe");
    s.local_addr().expect("probe addr")
}

/// A running `peerd server`, killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub db: PathBuf,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// A server at `listen` (port 0 for any) with its database at `db`.
    pub fn start(listen: &str, db: &Path) -> Self {
        Self::start_with(listen, db, &[])
    }

    /// Like [`Server::start`] with extra flags (e.g. `--keepalive 1`).
    pub fn start_with(listen: &str, db: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_peerd"))
            .arg("server")
            .args(["--listen", listen, "--db"])
            .arg(db)
            .args(extra)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn peerd server");
        let logs = capture(&mut child);
        let line = wait_for("the server to listen", DEADLINE, || {
            logs.lock()
                .expect("log lock")
                .iter()
                .find(|l| l.contains("listening on "))
                .cloned()
        });
        let text = line.rsplit("listening on ").next().unwrap_or_default();
        let addr = text
            .split_whitespace()
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Self {
            child,
            addr,
            db: db.to_path_buf(),
            logs,
        }
    }

    /// Every stderr line so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("log lock").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `peerd start`, killed when dropped.
pub struct Daemon {
    child: Child,
    pub data_dir: PathBuf,
    pub socket: PathBuf,
    logs: Arc<Mutex<Vec<String>>>,
}

/// Builds the command line of a daemon with an empty config file, so the
/// user's own config and environment never leak into a test.
pub fn daemon_command(server: SocketAddr, data_dir: &Path, extra: &[&str]) -> Command {
    let config = data_dir.with_extension("toml");
    if !config.exists() {
        std::fs::write(&config, "").expect("write empty config");
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_peerd"));
    cmd.arg("start")
        .arg("--server")
        .arg(server.to_string())
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .env_remove("PEERD_SERVER")
        .env_remove("PEERD_LISTEN")
        .env_remove("PEERD_DATA_DIR")
        .env_remove("PEERD_SOCKET")
        .env("PEERD_CONFIG", &config)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

impl Daemon {
    /// Starts a daemon and waits until its control socket answers.
    pub fn start(server: SocketAddr, data_dir: &Path) -> Self {
        let d = Self::spawn(server, data_dir, &[]);
        d.wait_ready();
        d
    }

    /// Starts a daemon without waiting.
    pub fn spawn(server: SocketAddr, data_dir: &Path, extra: &[&str]) -> Self {
        let mut child = daemon_command(server, data_dir, extra)
            .spawn()
            .expect("spawn peerd start");
        let logs = capture(&mut child);
        Self {
            child,
            data_dir: data_dir.to_path_buf(),
            socket: data_dir.join("peerd.sock"),
            logs,
        }
    }

    /// Waits until the control socket answers `status`.
    pub fn wait_ready(&self) -> Value {
        wait_for("the daemon's control socket", DEADLINE, || {
            Ctl::try_connect(&self.socket)
                .and_then(|mut c| c.try_request(&json!({"cmd": "status"})))
        })
    }

    /// Waits until the daemon is registered; its id.
    pub fn wait_registered(&self) -> u64 {
        wait_for("registration", DEADLINE, || {
            let status = self.request(&json!({"cmd": "status"}));
            let r = &status["result"];
            (r["state"] == "registered")
                .then(|| r["id"].as_u64())
                .flatten()
        })
    }

    /// One request on a fresh connection; the reply.
    pub fn request(&self, req: &Value) -> Value {
        Ctl::connect(&self.socket).request(req)
    }

    /// `send` with `wait`; the reply.
    pub fn send(&self, to: u64, text: &str, wait: bool) -> Value {
        self.request(&json!({"cmd": "send", "to": to, "text": text, "wait": wait}))
    }

    /// The inbox's messages.
    pub fn inbox(&self) -> Vec<Value> {
        let r = self.request(&json!({"cmd": "inbox"}));
        r["result"]["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Every stderr line so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("log lock").clone()
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the daemon.
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid fits i32");
        // SAFETY: kill(2) on the pid of a child this helper started.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal})");
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self) -> ExitStatus {
        wait_for("the daemon to exit", DEADLINE, || {
            self.child.try_wait().ok().flatten()
        })
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw control connection: JSON lines in, JSON lines out.
pub struct Ctl {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Ctl {
    /// Connects or panics.
    pub fn connect(path: &Path) -> Self {
        Self::try_connect(path).unwrap_or_else(|| panic!("cannot connect to {}", path.display()))
    }

    /// Connects, or `None` when nobody listens.
    pub fn try_connect(path: &Path) -> Option<Self> {
        let stream = UnixStream::connect(path).ok()?;
        stream.set_read_timeout(Some(DEADLINE)).ok()?;
        let writer = stream.try_clone().ok()?;
        Some(Self {
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Writes raw bytes (a line must end with `\n`).
    pub fn write_raw(&mut self, bytes: &[u8]) {
        self.writer
            .write_all(bytes)
            .expect("write to the control socket");
    }

    /// Reads one line as JSON or panics.
    pub fn read(&mut self) -> Value {
        self.try_read().expect("a JSON line from the daemon")
    }

    /// Reads one line as JSON.
    pub fn try_read(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(n) if n > 0 => serde_json::from_str(&line).ok(),
            _ => None,
        }
    }

    /// Sends one request and reads its reply.
    pub fn request(&mut self, req: &Value) -> Value {
        self.try_request(req).expect("a reply from the daemon")
    }

    fn try_request(&mut self, req: &Value) -> Option<Value> {
        let mut line = serde_json::to_vec(req).ok()?;
        line.push(b'\n');
        self.writer.write_all(&line).ok()?;
        self.try_read()
    }
}

/// A temporary directory with a server's and daemons' paths inside.
pub struct Lab {
    pub dir: tempfile::TempDir,
}

impl Lab {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A path inside the lab.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A fresh server on an ephemeral port.
    pub fn server(&self) -> Server {
        Server::start("127.0.0.1:0", &self.path("server.sqlite3"))
    }

    /// A fresh server whose peers refresh every `secs` seconds.
    pub fn server_keepalive(&self, secs: u32) -> Server {
        let k = secs.to_string();
        Server::start_with(
            "127.0.0.1:0",
            &self.path("server.sqlite3"),
            &["--keepalive", &k],
        )
    }
}

/// The texts of inbox messages from `from`.
pub fn texts_from(inbox: &[Value], from: u64) -> Vec<String> {
    inbox
        .iter()
        .filter(|m| m["from"].as_u64() == Some(from))
        .filter_map(|m| m["text"].as_str().map(str::to_owned))
        .collect()
}
