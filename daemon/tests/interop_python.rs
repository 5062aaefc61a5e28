//! Protocol v2 against an independent Python implementation written from
//! `docs/protocol.md` alone (`daemon/tests/interop/`).
//!
//! - `python_rebuilds_every_vector`: `test_vectors.py` rebuilds every output
//!   of `docs/protocol-v2-vectors.json` from its inputs and decodes every frame.
//! - `python_node_on_a_fake_clock`: `test_node.py`, the Python peer's timers
//!   (REGISTER rounds, the 15 s attempt, HELLO retries) and the sessions it
//!   keeps, on a fake clock.
//! - `python_live_scenario_selftest`: `live.py` against `spec_server.py`, a
//!   minimal server written from the document, so that the scenario itself
//!   is known to work.
//! - `python_interop_with_peerd_server`: `live.py` against a real
//!   `peerd server`, whose key comes first from `peerd server --print-key`:
//!   its start log line must name the same key and fingerprint, without
//!   `, new`.
//! - `python_cookies_with_peerd_server`: the cookie scenario against a
//!   `peerd server --cookie-threshold 1` that creates its key when it starts:
//!   its start log line names the key followed by `, new`, and
//!   `--print-key` gives the same key while it runs.
//!
//! The servers keep the default `--handshake-limit` (50 per second per
//! source IP, burst 100): the scenario sends about 20 handshakes and key
//! requests from 127.0.0.1, and the 80 extra peers of the LIST paging check
//! register from 127.0.0.2 to 127.0.0.5, 20 from each.
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
const SCRIPT_DEADLINE: Duration = Duration::from_secs(400);
/// How long the server may take to log its address.
const START_DEADLINE: Duration = Duration::from_secs(20);
/// The command that installs what the Python side imports.
const PIP_INSTALL: &str = "python3 -m pip install 'cryptography==48.0.0' 'PyNaCl==1.6.2'";

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

/// Runs one script of `tests/interop/` with `args`; returns whether it exited 0, and its output.
fn run_script(script: &str, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(python());
    cmd.arg(interop_dir().join(script))
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    let what = format!("{script} {}", args.join(" "));
    let (ok, output) = Running::spawn(cmd, &what).finish(SCRIPT_DEADLINE);
    println!("{what}:\n{output}");
    (ok, output)
}

/// Runs a script that must exit 0; fails with its output otherwise.
fn run_script_ok(script: &str, args: &[&str]) -> String {
    let (ok, output) = run_script(script, args);
    assert!(ok, "{script} {} failed:\n{output}", args.join(" "));
    output
}

#[test]
fn python_rebuilds_every_vector() {
    require_python_packages();
    let output = run_script_ok("test_vectors.py", &[]);
    assert!(
        output.contains(" passed, 0 failed"),
        "no summary line:\n{output}"
    );
}

#[test]
fn python_node_on_a_fake_clock() {
    require_python_packages();
    run_script_ok("test_node.py", &[]);
}

#[test]
fn python_live_scenario_selftest() {
    require_python_packages();
    run_script_ok("test_live_selftest.py", &[]);
}

/// What `peerd server --print-key` printed: the key alone on stdout, the fingerprint on stderr.
struct PrintedKey {
    key: String,
    fingerprint: String,
}

/// Runs `peerd server --print-key --db DB` and checks the form of its output (section 8).
fn print_key(db: &Path) -> PrintedKey {
    let out = Command::new(env!("CARGO_BIN_EXE_peerd"))
        .args(["server", "--print-key", "--db"])
        .arg(db)
        .stdin(Stdio::null())
        .output()
        .expect("run peerd server --print-key");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "peerd server --print-key failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let key = stdout.trim_end_matches('\n');
    assert!(
        is_key_text(key) && stdout == format!("{key}\n"),
        "--print-key must print the key alone on stdout (docs/protocol.md section 8), printed {stdout:?}"
    );
    let fingerprint = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("fingerprint "))
        .unwrap_or_else(|| panic!("no `fingerprint FP` on --print-key's stderr:\n{stderr}"))
        .to_owned();
    PrintedKey {
        key: key.to_owned(),
        fingerprint,
    }
}

/// A `peerd server` on 127.0.0.1:0 with a fresh database and its key.
struct PeerdServer {
    process: Running,
    addr: String,
    key: PrintedKey,
    _dir: tempfile::TempDir,
}

impl PeerdServer {
    /// Starts the server on a fresh database. With `key_first`, the key is
    /// created beforehand by `--print-key`, and the start log line must name
    /// it without `, new`; otherwise the server creates it, and `, new` must
    /// follow the fingerprint (docs/protocol.md section 8). Either way `--print-key`
    /// must give the same key while the server runs.
    fn start(key_first: bool, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("r.sqlite3");
        let printed = key_first.then(|| print_key(&db));
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
        let logs = process.stderr_lines();
        let (logged, new) = logged_key(&logs).unwrap_or_else(|| {
            panic!(
                "the server's start log has no line containing `server key KEY (fingerprint FP)` \
                 (docs/protocol.md section 8):\n{}",
                logs.join("\n")
            )
        });
        assert_eq!(
            new,
            !key_first,
            "the start log line must say `, new` exactly when the server has just created its key:\n{}",
            logs.join("\n")
        );
        let again = print_key(&db);
        assert_eq!(
            (&again.key, &again.fingerprint),
            (&logged.key, &logged.fingerprint),
            "--print-key while the server runs gives another key than its start log line"
        );
        if let Some(printed) = printed {
            assert_eq!(
                (&printed.key, &printed.fingerprint),
                (&logged.key, &logged.fingerprint),
                "the server logs another key than --print-key created"
            );
        }
        Self {
            process,
            addr,
            key: logged,
            _dir: dir,
        }
    }

    /// Runs `live.py` against this server with `args`; fails with the output and the server's log.
    fn live(&self, args: &[&str]) {
        let mut all = vec![
            "--server",
            &self.addr,
            "--server-key",
            &self.key.key,
            "--server-fingerprint",
            &self.key.fingerprint,
        ];
        all.extend_from_slice(args);
        let (ok, output) = run_script("live.py", &all);
        assert!(
            ok,
            "live.py {} failed:\n{output}\n--- peerd server log ---\n{}",
            args.join(" "),
            self.process.stderr_lines().join("\n")
        );
    }
}

/// The key and fingerprint named by the log line containing
/// `server key KEY (fingerprint FP)`, and whether `, new` follows.
fn logged_key(lines: &[String]) -> Option<(PrintedKey, bool)> {
    lines.iter().find_map(|line| {
        let rest = line.split("server key ").nth(1)?;
        let (key, rest) = rest.split_once(" (fingerprint ")?;
        let (fingerprint, after) = rest.split_once(')')?;
        let ok = is_key_text(key) && is_fingerprint(fingerprint);
        ok.then(|| {
            let printed = PrintedKey {
                key: key.to_owned(),
                fingerprint: fingerprint.to_owned(),
            };
            (printed, after.starts_with(", new"))
        })
    })
}

/// 32 lower-case hex digits in 8 groups of 4 separated by `:` (section 1.1).
fn is_fingerprint(text: &str) -> bool {
    let groups: Vec<&str> = text.split(':').collect();
    groups.len() == 8
        && groups.iter().all(|g| {
            g.len() == 4
                && g.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
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
    let server = PeerdServer::start(true, &[]);
    server.live(&[]);
}

#[test]
fn python_cookies_with_peerd_server() {
    require_python_packages();
    let server = PeerdServer::start(false, &["--cookie-threshold", "1"]);
    server.live(&["--cookies"]);
}
