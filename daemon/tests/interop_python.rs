//! Protocol v2 against an independent Python implementation written from
//! `docs/protocol.md` alone (`daemon/tests/interop/`).
//!
//! - `python_rebuilds_every_vector`: `test_vectors.py` rebuilds every byte of
//!   `docs/protocol-v2-vectors.json` from its inputs and decodes every frame.
//! - `python_live_scenario_selftest`: `live.py` against `spec_server.py`, a
//!   minimal server written from the document, so that the scenario itself
//!   is known to work.
//! - `python_interop_with_peerd_server`: `live.py` against a real
//!   `peerd server` (and its cookie scenario against one started with
//!   `--cookie-threshold 1`). It runs only when `PEERD_INTEROP_LIVE` is set.
//!
//! The Python packages `cryptography` and `PyNaCl` must be importable by
//! `python3` (or `$PEERD_PYTHON`); when they are not, every test fails with
//! the pip command that installs them.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long one Python script may run before the test kills it and fails.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(180);
/// How long the server may take to log its address.
const START_DEADLINE: Duration = Duration::from_secs(20);
/// The command that installs what the Python side imports.
const PIP_INSTALL: &str = "python3 -m pip install 'cryptography>=42' 'PyNaCl>=1.5'";

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("interop")
}

fn python() -> String {
    std::env::var("PEERD_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Fails, naming the pip command, unless python3 imports the packages.
fn require_python_packages() {
    let out = Command::new(python())
        .args(["-c", "import cryptography, nacl.bindings"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; install Python 3.11 or newer", python()));
    assert!(
        out.status.success(),
        "the Python interop tests need the packages cryptography and PyNaCl; install them with:\n    {PIP_INSTALL}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A child process, killed when dropped, whose output is collected by threads.
struct Running {
    child: Child,
    what: String,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Running {
    fn spawn(mut cmd: Command, what: &str) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(
                child.stdout.take().expect("piped stdout"),
                Arc::clone(&stdout),
            ),
            collect(
                child.stderr.take().expect("piped stderr"),
                Arc::clone(&stderr),
            ),
        ];
        Self {
            child,
            what: what.to_owned(),
            stdout,
            stderr,
            readers,
        }
    }

    fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// Waits for the process to exit; kills it and fails past `deadline`.
    /// Returns (success, stdout and stderr).
    fn finish(mut self, deadline: Duration) -> (bool, String) {
        let end = Instant::now() + deadline;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{} did not finish within {deadline:?}:\n{}",
                    self.what,
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        (status.success(), self.output())
    }

    fn output(&self) -> String {
        let mut text = self.stdout.lock().expect("stdout lock").join("\n");
        let err = self.stderr_lines();
        if !err.is_empty() {
            text.push_str("\n--- stderr ---\n");
            text.push_str(&err.join("\n"));
        }
        text
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn collect(stream: impl Read + Send + 'static, sink: Arc<Mutex<Vec<String>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().expect("output lock").push(line);
        }
    })
}

/// Runs one script of `tests/interop/` with `args`; fails with its output unless it exits 0.
fn run_script(script: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(python());
    cmd.arg(interop_dir().join(script))
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    let what = format!("{script} {}", args.join(" "));
    let (ok, output) = Running::spawn(cmd, &what).finish(SCRIPT_DEADLINE);
    assert!(ok, "{what} failed:\n{output}");
    println!("{what}:\n{output}");
    output
}

#[test]
fn python_rebuilds_every_vector() {
    require_python_packages();
    let output = run_script("test_vectors.py", &[]);
    assert!(
        output.contains(" passed, 0 failed"),
        "no summary line:\n{output}"
    );
}

#[test]
fn python_live_scenario_selftest() {
    require_python_packages();
    run_script("test_live_selftest.py", &[]);
}

/// A `peerd server` on 127.0.0.1:0 with a fresh database.
struct PeerdServer {
    process: Running,
    addr: String,
    db: PathBuf,
    _dir: tempfile::TempDir,
}

impl PeerdServer {
    fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("r.sqlite3");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_peerd"));
        cmd.arg("server")
            .args(["--listen", "127.0.0.1:0", "--db"])
            .arg(&db)
            .args(extra)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        let process = Running::spawn(cmd, "peerd server");
        let end = Instant::now() + START_DEADLINE;
        let addr = loop {
            let found = process
                .stderr_lines()
                .iter()
                .find_map(|l| l.split("listening on ").nth(1).map(|a| a.trim().to_owned()));
            if let Some(addr) = found {
                break addr;
            }
            assert!(
                Instant::now() < end,
                "peerd server logged no \"listening on ADDR\" within {START_DEADLINE:?}:\n{}",
                process.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Self {
            process,
            addr,
            db,
            _dir: dir,
        }
    }

    /// The server's key as `peerd server --print-key --db <same db>` prints it.
    fn print_key(&self) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_peerd"))
            .args(["server", "--print-key", "--db"])
            .arg(&self.db)
            .stdin(Stdio::null())
            .output()
            .expect("run peerd server --print-key");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "peerd server --print-key failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .split_whitespace()
            .find(|word| is_key_text(word))
            .unwrap_or_else(|| {
                panic!("no 44-character base64 key in --print-key's output:\n{stdout}")
            })
            .to_owned()
    }
}

/// 44 characters of standard base64 ending in one `=`: the text of a 32-byte key.
fn is_key_text(word: &str) -> bool {
    word.len() == 44
        && word.ends_with('=')
        && !word[..43].contains('=')
        && word[..43]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

#[test]
fn python_interop_with_peerd_server() {
    require_python_packages();
    if std::env::var_os("PEERD_INTEROP_LIVE").is_none() {
        println!("skipped: set PEERD_INTEROP_LIVE=1 to run live.py against a real peerd server");
        return;
    }
    let server = PeerdServer::start(&[]);
    let key = server.print_key();
    run_script("live.py", &["--server", &server.addr, "--server-key", &key]);
    let logs = server.process.stderr_lines();
    assert!(
        logs.iter().any(|l| l.contains(&key)),
        "the server did not print its key {key} at start (docs/protocol.md section 8):\n{}",
        logs.join("\n")
    );

    let loaded = PeerdServer::start(&["--cookie-threshold", "1"]);
    let key = loaded.print_key();
    run_script(
        "live.py",
        &["--server", &loaded.addr, "--server-key", &key, "--cookies"],
    );
}
