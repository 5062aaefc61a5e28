//! A real `peerd server`: started with its database in a temporary
//! directory, ready once it logged `listening on ADDR` (the address read
//! from that line), killed on `Drop`.

use std::ffi::OsString;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use peerd_shared::proto::PublicKey;

use super::bins::peerd_bin;
use super::poll::{Timeout, DEADLINE};
use super::process::Proc;
use super::udp::Client;

/// A running `peerd server`, killed (SIGKILL) when dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub db: PathBuf,
    pub proc: Proc,
    /// Keeps the temporary directory alive when the server owns it.
    _dir: Option<tempfile::TempDir>,
}

/// `server --listen LISTEN --db DB`: the arguments of `peerd server`.
pub fn server_args(listen: &str, db: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["server", "--listen", listen, "--db"]
        .iter()
        .map(OsString::from)
        .collect();
    args.push(db.into());
    args
}

impl Server {
    /// A server on 127.0.0.1:0 with a fresh database and `extra` flags.
    pub fn fresh(extra: &[&str]) -> Self {
        Self::fresh_at("127.0.0.1:0", "info", extra)
    }

    /// A server on `listen` with a fresh database, logging at `rust_log`.
    pub fn fresh_at(listen: &str, rust_log: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("nested").join("registry.sqlite3");
        let mut cmd = Command::new(peerd_bin());
        cmd.args(server_args(listen, &db))
            .args(extra)
            .env("RUST_LOG", rust_log);
        let mut server = Self::launch(cmd, &db, "peerd server").unwrap_or_else(|t| panic!("{t}"));
        server._dir = Some(dir);
        server
    }

    /// A server listening on `listen` with its database at `db`.
    pub fn start(listen: &str, db: &Path, extra: &[&str]) -> Self {
        let mut cmd = Command::new(peerd_bin());
        cmd.args(server_args(listen, db))
            .args(extra)
            .env("RUST_LOG", "info");
        Self::launch(cmd, db, "peerd server").unwrap_or_else(|t| panic!("{t}"))
    }

    /// Spawns `cmd` (a `peerd server` command line, perhaps run inside a
    /// network namespace) and waits for its `listening on ADDR` line.
    pub fn launch(mut cmd: Command, db: &Path, name: &str) -> Result<Self, Timeout> {
        let proc =
            Proc::start(name, &mut cmd).map_err(|e| Timeout(format!("{name} to start: {e}")))?;
        let addr = proc
            .stderr
            .wait_until("`listening on ADDR`", DEADLINE, listening_addr)?;
        Ok(Self {
            addr,
            db: db.to_path_buf(),
            proc,
            _dir: None,
        })
    }

    /// Every log line so far.
    pub fn logs(&self) -> Vec<String> {
        self.proc.log()
    }

    /// Waits until a log line contains `needle`; returns it.
    pub fn wait_for_log(&self, needle: &str) -> String {
        self.proc
            .stderr
            .wait_line(DEADLINE, |l| l.contains(needle))
            .unwrap_or_else(|t| panic!("{} logging {needle:?}: {t}", self.proc.name()))
    }

    /// Waits until at least `count` log lines contain `needle`; returns how many do.
    pub fn wait_for_logs(&self, needle: &str, count: usize) -> usize {
        let what = format!("{count} log lines with {needle:?}");
        self.proc
            .stderr
            .wait_until(&what, DEADLINE, |text| {
                let n = text.lines().filter(|l| l.contains(needle)).count();
                (n >= count).then_some(n)
            })
            .unwrap_or_else(|t| panic!("{t}"))
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`).
    pub fn signal(&self, signal: libc::c_int) {
        self.proc.signal(signal);
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self) -> ExitStatus {
        self.proc.wait()
    }

    /// The server's public key, from its `server key KEY (fingerprint FP)`
    /// line (logged before `listening on`).
    pub fn key(&self) -> PublicKey {
        let line = self.wait_for_log("server key ");
        server_key_in(&line).unwrap_or_else(|| panic!("no key in {line:?}"))
    }

    /// A new client socket on loopback (same family as the server).
    pub fn client(&self) -> Client {
        Client::new(self.addr)
    }
}

/// The key in a `server key KEY (fingerprint FP)` line.
pub fn server_key_in(line: &str) -> Option<PublicKey> {
    let rest = &line[line.find("server key ")? + "server key ".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// The address in the first `listening on ADDR` line of a log.
pub fn listening_addr(log: &str) -> Option<SocketAddr> {
    log.lines().find_map(|line| {
        let rest = &line[line.find("listening on ")? + "listening on ".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']')))
            .unwrap_or(rest.len());
        rest[..end].parse().ok()
    })
}

/// A loopback UDP address held by a silent socket until dropped: where a
/// server is down now and will start later. Holding it keeps any other
/// process from being given the port meanwhile (ports from `bind(0)` are
/// handed out at random, and the whole machine shares them).
pub struct HeldPort {
    socket: UdpSocket,
}

impl HeldPort {
    /// Takes a free port on 127.0.0.1.
    pub fn new() -> Self {
        Self::at("127.0.0.1:0".parse().expect("literal address"))
    }

    /// Takes `addr` again, e.g. right after the server on it was stopped.
    pub fn at(addr: SocketAddr) -> Self {
        let socket = UdpSocket::bind(addr).unwrap_or_else(|e| panic!("cannot hold {addr}: {e}"));
        Self { socket }
    }

    /// The held address.
    pub fn addr(&self) -> SocketAddr {
        self.socket.local_addr().expect("held address")
    }

    /// Releases the port for the process about to bind it.
    pub fn release(self) -> SocketAddr {
        self.addr()
    }
}

impl Default for HeldPort {
    fn default() -> Self {
        Self::new()
    }
}
