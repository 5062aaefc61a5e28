//! A peer daemon (`peerd start`) on a lab host: the harness's [`Daemon`]
//! run inside the host's namespace (`ip netns exec`), listening on all its
//! addresses, with a control socket in a temporary directory of its own.
//!
//! The control socket is a path on the shared filesystem, which network
//! namespaces do not separate: the test process (and `peerctl`) talk to a
//! daemon inside the lab directly, with every request and wait of
//! [`Daemon`] (reached through `Deref`).

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use peerd_shared::PeerId;

use super::error::{LabError, Result};
use super::machines::Host;
use crate::support::{Daemon, Launch};

/// How long a daemon may take to register after its start.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(20);

/// A `peerd start` running on a lab host; killed when dropped.
pub struct PeerDaemon {
    name: String,
    host: Host,
    daemon: Daemon,
    /// The data dir, the socket and the config file; removed last.
    dir: tempfile::TempDir,
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
        let daemon = Launch::new(server, &dir.path().join("data"))
            .name(&format!("peerd start ({name}) on {}", host.ns().name()))
            .wrapped(&["ip", "netns", "exec", host.ns().name()])
            .listen("0.0.0.0:0")
            .socket(&dir.path().join("control.sock"))
            .args(extra)
            .spawn();
        daemon.wait_registered_within(REGISTER_TIMEOUT)?;
        Ok(Self {
            name: name.to_owned(),
            host: host.clone(),
            daemon,
            dir,
        })
    }

    /// Kills the daemon and starts it again on the same data dir and
    /// socket; waits until it is registered.
    pub fn restart(&mut self) -> Result<()> {
        self.daemon.restart();
        self.daemon.wait_registered_within(REGISTER_TIMEOUT)?;
        Ok(())
    }

    /// The daemon's label in logs and messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The daemon's data directory (its `identity.key`, database, ...).
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// The host the daemon runs on.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The daemon's id (it is registered once `start` returned).
    pub fn id(&self) -> Result<PeerId> {
        self.status()?
            .id
            .ok_or_else(|| LabError::Timeout(format!("{} has no id yet", self.name)))
    }

    /// Runs `peerctl --socket SOCKET ARGS...`; its stdout if it succeeded.
    pub fn peerctl_out(&self, args: &[&str]) -> Result<String> {
        let run = self.daemon.peerctl(args);
        if run.success() {
            return Ok(run.stdout);
        }
        Err(LabError::Command {
            cmd: format!("peerctl {}", args.join(" ")),
            status: format!("{:?}", run.code),
            stderr: run.stderr.trim().to_owned(),
        })
    }
}

impl Deref for PeerDaemon {
    type Target = Daemon;

    fn deref(&self) -> &Daemon {
        &self.daemon
    }
}

impl DerefMut for PeerDaemon {
    fn deref_mut(&mut self) -> &mut Daemon {
        &mut self.daemon
    }
}
