//! Helpers of the operations tests (`ops_*.rs`): the real `peerd` binary
//! as a child that is killed on drop, its stderr captured in a file and
//! waited on with a deadline, raw v1 JSON and STUN over UDP, and a plain
//! HTTP/1.1 GET.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long any wait of these tests may take before it fails.
pub const DEADLINE: Duration = Duration::from_secs(20);
/// Polling period of the waits.
pub const POLL: Duration = Duration::from_millis(20);

/// The `peerd` binary under test.
pub fn peerd() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_peerd"))
}

/// The repository's root (for `contrib/`).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("daemon/ has a parent")
        .to_path_buf()
}

/// A `peerd` command with a clean environment for peerd's own variables
/// (none of `PEERD_*`, `RUST_LOG`, `NOTIFY_SOCKET`, `JOURNAL_STREAM`
/// leaks in from the test runner) and `HOME`/XDG dirs inside `home`.
pub fn command(home: &Path) -> Command {
    let mut cmd = Command::new(peerd());
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("PEERD_")
            || k.starts_with("XDG_")
            || k.starts_with("WATCHDOG_")
            || matches!(
                &*k,
                "RUST_LOG"
                    | "NOTIFY_SOCKET"
                    | "JOURNAL_STREAM"
                    | "STATE_DIRECTORY"
                    | "CONFIGURATION_DIRECTORY"
            )
        {
            cmd.env_remove(&key);
        }
    }
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// A running `peerd`, killed (and reaped) on drop; stderr goes to `log`.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    /// Spawns `cmd` with stderr (and stdout) into `log`.
    pub fn spawn(mut cmd: Command, log: &Path) -> Self {
        let file = std::fs::File::create(log).expect("create log file");
        let out = file.try_clone().expect("clone log file");
        let child = cmd.stdout(out).stderr(file).spawn().expect("spawn peerd");
        Self {
            child,
            log: log.to_path_buf(),
        }
    }

    /// Spawns `cmd` with stderr (and stdout) appended to the existing
    /// file `log` (its device and inode stay the same).
    pub fn spawn_appending(mut cmd: Command, log: &Path) -> Self {
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(log)
            .expect("open log file");
        let out = file.try_clone().expect("clone log file");
        let child = cmd.stdout(out).stderr(file).spawn().expect("spawn peerd");
        Self {
            child,
            log: log.to_path_buf(),
        }
    }

    /// What the process has logged so far.
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log has a line containing `needle`; returns that line.
    pub fn wait_line(&mut self, needle: &str) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(line) = self.text().lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "peerd exited ({status}) before logging {needle:?}:\n{}",
                    self.text()
                );
            }
            assert!(
                Instant::now() < end,
                "no {needle:?} in time:\n{}",
                self.text()
            );
            std::thread::sleep(POLL);
        }
    }

    /// The UDP address of a server (its `listening on ADDR` line).
    pub fn udp_addr(&mut self) -> SocketAddr {
        let line = self.wait_line("listening on ");
        let addr = line.rsplit("listening on ").next().expect("address");
        addr.trim().parse().expect("a socket address")
    }

    /// The metrics address of a server (its `metrics on http://ADDR/metrics` line).
    pub fn metrics_addr(&mut self) -> SocketAddr {
        let line = self.wait_line("metrics on http://");
        let rest = line.rsplit("metrics on http://").next().expect("address");
        rest.trim_end_matches("/metrics")
            .trim()
            .parse()
            .expect("a socket address")
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        // SAFETY: kill(2) with our own child's pid and a valid signal.
        let pid = i32::try_from(self.child.id()).expect("pid fits");
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }

    /// Waits for the process to exit, with the deadline.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < end, "peerd did not exit:\n{}", self.text());
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A UDP client on loopback with a read timeout.
pub fn udp_client() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind client");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s
}

/// A STUN Binding request with transaction id `id` (RFC 5389).
pub fn stun_request(id: u8) -> Vec<u8> {
    let mut m = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
    m.extend_from_slice(&[id; 12]);
    m
}

/// Sends a STUN request and returns true if a success response with the
/// same transaction id came back.
pub fn stun_answered(client: &UdpSocket, server: SocketAddr, id: u8) -> bool {
    client
        .send_to(&stun_request(id), server)
        .expect("send STUN");
    let mut buf = [0u8; 1024];
    match client.recv_from(&mut buf) {
        Ok((n, _)) => n >= 20 && buf[..2] == [0x01, 0x01] && buf[8..20] == [id; 12],
        Err(_) => false,
    }
}

/// A plain HTTP/1.1 GET: (status, headers, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    (status, head.to_owned(), body.to_owned())
}

/// Whether a program is on `PATH`.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
