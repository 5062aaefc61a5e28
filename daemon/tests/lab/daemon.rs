//! A peer daemon (`peerd start`) on a lab host, driven through its control
//! socket (the JSON-lines protocol of `peerd_shared::control`) and through
//! the real `peerctl` binary.
//!
//! The control socket is a path on the shared filesystem, which network
//! namespaces do not separate: the test process talks to a daemon inside
//! the lab directly.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use peerd_shared::control::{
    Command as Ctl, InboxEntry, PeerPathInfo, PingOutcome, RegState, Reply, Request, Response,
    SendOutcome, Status,
};
use peerd_shared::PeerId;

use super::error::{LabError, Result};
use super::machines::Host;
use super::process::Spawned;

/// How long a daemon may take to register after its start.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(20);
/// Poll interval of the waits below.
const POLL: Duration = Duration::from_millis(50);

/// A `peerd start` running on a lab host; killed when dropped.
pub struct PeerDaemon {
    name: String,
    host: Host,
    server: SocketAddr,
    extra: Vec<String>,
    dir: tempfile::TempDir,
    process: Option<Spawned>,
}

impl PeerDaemon {
    /// Starts `peerd start --server SERVER --listen 0.0.0.0:0 --data-dir D
    /// --socket D/control.sock EXTRA...` on `host` and waits until it is
    /// registered.
    pub fn start(host: &Host, server: SocketAddr, name: &str, extra: &[&str]) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("peerdlab-{name}-"))
            .tempdir()
            .map_err(|e| LabError::io("daemon data dir", e))?;
        let mut daemon = Self {
            name: name.to_owned(),
            host: host.clone(),
            server,
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            dir,
            process: None,
        };
        daemon.restart()?;
        Ok(daemon)
    }

    /// (Re)starts the daemon process on the same data dir and socket.
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        let mut cmd = self.host.command(env!("CARGO_BIN_EXE_peerd"));
        cmd.args([
            "start",
            "--server",
            &self.server.to_string(),
            "--listen",
            "0.0.0.0:0",
        ])
        .arg("--data-dir")
        .arg(self.data_dir())
        .arg("--socket")
        .arg(self.socket())
        .args(&self.extra)
        .env("RUST_LOG", "info");
        isolate(&mut cmd, self.dir.path());
        let label = format!("peerd start ({}) on {}", self.name, self.host.ns().name());
        self.process = Some(Spawned::start(cmd, &label)?);
        self.wait_registered(REGISTER_TIMEOUT)
    }

    /// Kills the daemon (SIGKILL); its data stays for a restart.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }

    /// The daemon's label in logs and messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host the daemon runs on.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The daemon's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The daemon's control socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("control.sock")
    }

    /// The daemon's log so far.
    pub fn log(&self) -> Vec<String> {
        self.process
            .as_ref()
            .map(Spawned::lines)
            .unwrap_or_default()
    }

    /// One control request, one reply.
    pub fn control(&self, command: Ctl) -> Result<Response> {
        control(&self.socket(), command)
    }

    /// The daemon's status.
    pub fn status(&self) -> Result<Status> {
        match self.control(Ctl::Status)? {
            Response::Status(s) => Ok(s),
            other => Err(unexpected("status", &other)),
        }
    }

    /// The daemon's id (it is registered once `start` returned).
    pub fn id(&self) -> Result<PeerId> {
        self.status()?
            .id
            .ok_or_else(|| LabError::Timeout(format!("{} has no id yet", self.name)))
    }

    /// Queues `text` for `to`; with `wait`, returns once acknowledged.
    pub fn send(&self, to: PeerId, text: &str, wait: bool) -> Result<SendOutcome> {
        let command = Ctl::Send {
            to,
            text: text.to_owned(),
            ttl_secs: None,
            wait,
        };
        match self.control(command)? {
            Response::Sent(s) => Ok(s),
            other => Err(unexpected("send", &other)),
        }
    }

    /// The `peers` listing: how each known peer is reached.
    pub fn paths(&self) -> Result<Vec<PeerPathInfo>> {
        match self.control(Ctl::Peers)? {
            Response::Paths { peers } => Ok(peers),
            other => Err(unexpected("peers", &other)),
        }
    }

    /// The `peers` entry of one peer.
    pub fn path_to(&self, peer: PeerId) -> Result<PeerPathInfo> {
        self.paths()?
            .into_iter()
            .find(|p| p.id == peer)
            .ok_or_else(|| LabError::Timeout(format!("{} does not list peer {peer}", self.name)))
    }

    /// `ping`: the round trip to `to` over its current path.
    pub fn ping(&self, to: PeerId) -> Result<PingOutcome> {
        match self.control(Ctl::Ping { to })? {
            Response::Pong(p) => Ok(p),
            other => Err(unexpected("ping", &other)),
        }
    }

    /// The inbox (optionally only messages from `from`), in listing order.
    pub fn inbox(&self, from: Option<PeerId>) -> Result<Vec<InboxEntry>> {
        match self.control(Ctl::Inbox { from, limit: None })? {
            Response::Inbox { messages } => Ok(messages),
            other => Err(unexpected("inbox", &other)),
        }
    }

    /// Polls the inbox until it holds at least `count` messages from `from`.
    pub fn wait_inbox(
        &self,
        from: PeerId,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<InboxEntry>> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.inbox(Some(from))?;
            if got.len() >= count {
                return Ok(got);
            }
            if Instant::now() >= deadline {
                return Err(LabError::Timeout(format!(
                    "{} has {} of {count} messages from {from} after {timeout:?}",
                    self.name,
                    got.len()
                )));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Polls until the daemon reports itself registered.
    pub fn wait_registered(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.status().map(|s| s.state);
            if matches!(state, Ok(RegState::Registered)) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let tail = self.log().join("\n");
                return Err(LabError::Timeout(format!(
                    "{} not registered after {timeout:?} ({state:?}); log:\n{tail}",
                    self.name
                )));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Runs `peerctl --socket SOCKET ARGS...` and returns its stdout.
    pub fn peerctl(&self, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new(peerctl_path()?);
        cmd.arg("--socket").arg(self.socket()).args(args);
        isolate(&mut cmd, self.dir.path());
        let out = cmd
            .output()
            .map_err(|e| LabError::io(format!("cannot run peerctl {args:?}"), e))?;
        if !out.status.success() {
            return Err(LabError::Command {
                cmd: format!("peerctl {}", args.join(" ")),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Keeps a peerd or peerctl process away from the user's own peerd config
/// and `PEERD_*` environment.
fn isolate(cmd: &mut Command, dir: &Path) {
    cmd.env("XDG_CONFIG_HOME", dir.join("config"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PEERD_") {
            cmd.env_remove(key);
        }
    }
}

impl Drop for PeerDaemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends one request on a daemon's control socket and reads its reply.
pub fn control(socket: &Path, command: Ctl) -> Result<Response> {
    let ctx = |what: &str| format!("{what} {}", socket.display());
    let mut stream = UnixStream::connect(socket).map_err(|e| LabError::io(ctx("connect"), e))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| LabError::io(ctx("timeout on"), e))?;
    let request = Request {
        req: Some(1),
        command,
    };
    let mut line = serde_json::to_vec(&request)
        .map_err(|e| LabError::Unavailable(format!("cannot encode a control request: {e}")))?;
    line.push(b'\n');
    stream
        .write_all(&line)
        .map_err(|e| LabError::io(ctx("write to"), e))?;
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .map_err(|e| LabError::io(ctx("read from"), e))?;
    let reply: Reply = serde_json::from_str(&answer)
        .map_err(|e| LabError::Unavailable(format!("bad control reply {answer:?}: {e}")))?;
    reply
        .into_result()
        .map_err(|e| LabError::Unavailable(format!("daemon refused: {:?}: {}", e.code, e.message)))
}

/// The `peerctl` binary next to `peerd` in the target directory, brought
/// up to date once per test process with `cargo build -p peerctl` (a test
/// of this package cannot depend on another package's binary); without
/// cargo at hand, whatever binary is there.
pub fn peerctl_path() -> Result<PathBuf> {
    static BUILT: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let path = Path::new(env!("CARGO_BIN_EXE_peerd")).with_file_name("peerctl");
            let cargo = option_env!("CARGO").unwrap_or("cargo");
            let release = path.parent().is_some_and(|d| d.ends_with("release"));
            let built = Command::new(cargo)
                .args(["build", "-q", "-p", "peerctl"])
                .args(release.then_some("--release"))
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .is_ok_and(|s| s.success());
            if !built && !path.exists() {
                return Err(format!(
                    "no peerctl at {} (cargo build -p peerctl)",
                    path.display()
                ));
            }
            Ok(path)
        })
        .clone()
        .map_err(LabError::Unavailable)
}

fn unexpected(what: &str, got: &Response) -> LabError {
    LabError::Unavailable(format!("{what} answered {got:?}"))
}
