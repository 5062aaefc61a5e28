//! One network namespace made by the lab: commands run inside it, sockets
//! the test process opens inside it, the processes living in it, and its
//! removal.
//!
//! Sockets are opened from the test process itself: a short-lived thread
//! calls `setns(2)` into the namespace (network namespaces are per thread),
//! creates the socket and hands it back. A socket stays in the namespace it
//! was created in for its whole life, whichever thread uses it later.

use std::fs::File;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use super::error::{LabError, Result};
use crate::support::wait_until;

/// Where `ip netns add` puts the namespace handles.
pub const NETNS_DIR: &str = "/run/netns";

/// A named network namespace (a cheap handle; the [`super::Lab`] deletes it).
#[derive(Clone, Debug)]
pub struct Netns {
    name: Arc<str>,
}

impl Netns {
    /// Creates the namespace and brings its loopback up.
    pub(crate) fn create(name: &str) -> Result<Self> {
        run("ip", &["netns", "add", name])?;
        let ns = Self { name: name.into() };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// A handle on an existing namespace (e.g. a stale one to delete).
    pub(crate) fn adopt(name: &str) -> Self {
        Self { name: name.into() }
    }

    /// The namespace's name as `ip netns list` shows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME ARGS...`, returning its stdout.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut all = vec!["-n", self.name()];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// Adds a veth pair: `mine` here, `theirs` in the namespace `other`.
    pub fn add_veth(&self, mine: &str, theirs: &str, other: &Netns) -> Result<()> {
        let link = ["link", "add", mine, "type", "veth", "peer", "name", theirs];
        let mut args = link.to_vec();
        args.extend(["netns", other.name()]);
        self.ip(&args).map(drop)
    }

    /// Runs `ip netns exec NAME PROGRAM ARGS...` to completion, returning its stdout.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<String> {
        let mut all = vec!["netns", "exec", self.name(), program];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// Runs `iptables -w ARGS...` inside the namespace.
    pub fn iptables(&self, args: &[&str]) -> Result<String> {
        let mut all = vec!["-w"];
        all.extend_from_slice(args);
        self.exec("iptables", &all)
    }

    /// Sets a per-namespace sysctl, e.g. `net.ipv4.ip_forward=1`.
    pub fn sysctl(&self, setting: &str) -> Result<()> {
        self.exec("sysctl", &["-q", "-w", setting]).map(drop)
    }

    /// A `Command` that runs `program` inside the namespace
    /// (`ip netns exec NAME program`); add arguments and spawn it.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", self.name(), program]);
        cmd
    }

    /// Runs `f` on a dedicated thread that has joined this namespace; the
    /// sockets `f` creates belong to the namespace.
    pub fn run_inside<T: Send>(&self, f: impl FnOnce() -> io::Result<T> + Send) -> Result<T> {
        let path = format!("{NETNS_DIR}/{}", self.name);
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let handle =
                        File::open(&path).map_err(|e| LabError::io(format!("open {path}"), e))?;
                    // SAFETY: setns only changes the calling thread's network
                    // namespace; the fd is valid for the duration of the call.
                    let rc = unsafe { libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) };
                    if rc != 0 {
                        let err = io::Error::last_os_error();
                        return Err(LabError::io(format!("setns into {path}"), err));
                    }
                    f().map_err(|e| LabError::io(format!("inside namespace {}", self.name), e))
                })
                .join()
                .map_err(|_| LabError::Timeout(format!("thread inside {} panicked", self.name)))?
        })
    }

    /// Binds a UDP socket inside the namespace.
    pub fn bind_udp(&self, addr: SocketAddr) -> Result<UdpSocket> {
        self.run_inside(|| UdpSocket::bind(addr))
    }

    /// The pids of the processes living in this namespace.
    pub fn pids(&self) -> Vec<i32> {
        run("ip", &["netns", "pids", self.name()])
            .map(|out| out.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Kills every process in the namespace and waits (up to 5 s) until none is left.
    pub fn kill_all(&self) {
        let what = format!("the processes of {} to die", self.name);
        let _ = wait_until(what, Duration::from_secs(5), || {
            let pids = self.pids();
            for &pid in &pids {
                // SAFETY: plain kill(2) on a pid that lives in our namespace.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            pids.is_empty().then_some(())
        });
    }

    /// Kills the processes in the namespace and deletes it.
    pub(crate) fn destroy(&self) -> Result<()> {
        self.kill_all();
        run("ip", &["netns", "delete", self.name()]).map(drop)
    }
}

/// Runs a program to completion; its stdout on success, a
/// [`LabError::Command`] naming the command line otherwise.
pub fn run(program: &str, args: &[&str]) -> Result<String> {
    let cmdline = format!("{program} {}", args.join(" "));
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| LabError::io(format!("cannot run `{cmdline}`"), e))?;
    if !out.status.success() {
        return Err(LabError::Command {
            cmd: cmdline,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The names of all network namespaces on the machine (`ip netns list`).
pub fn list_all() -> Result<Vec<String>> {
    let out = run("ip", &["netns", "list"])?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}
