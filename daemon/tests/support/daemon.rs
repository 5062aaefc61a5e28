//! A real `peerd start` daemon: its command line (isolated from the user's
//! settings), its process (killed on `Drop`), its life cycle (restart on
//! the same data dir, signals, `stop`), and the real `peerctl` pointed at
//! it. Typed control requests are in `requests.rs`.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use peerd_shared::control::Command as Request;

use super::bins::{isolate, peerd_bin};
use super::peerctl::{os_args, peerctl_run, peerctl_spawn};
use super::process::{Proc, Run};

/// How to start a daemon: everything of its command line.
#[derive(Clone, Debug)]
pub struct Launch {
    name: String,
    /// A program the daemon runs under, e.g. `ip netns exec NS`.
    wrap: Vec<OsString>,
    server: String,
    listen: String,
    dir: PathBuf,
    socket: Option<PathBuf>,
    extra: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
}

impl Launch {
    /// `peerd start --server SERVER --listen 127.0.0.1:0 --data-dir DIR`.
    pub fn new(server: impl ToString, dir: &Path) -> Self {
        Self {
            name: format!("peerd start ({})", dir.display()),
            wrap: Vec::new(),
            server: server.to_string(),
            listen: "127.0.0.1:0".into(),
            dir: dir.to_path_buf(),
            socket: None,
            extra: Vec::new(),
            env: Vec::new(),
        }
    }

    /// The label of the process in messages and saved logs.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    /// Runs the daemon as `PROGRAM ARGS... peerd ...` (e.g. `ip netns exec NS`).
    pub fn wrapped(mut self, prefix: &[&str]) -> Self {
        self.wrap = os_args(prefix);
        self
    }

    /// `--listen ADDR` instead of 127.0.0.1:0.
    pub fn listen(mut self, addr: &str) -> Self {
        self.listen = addr.to_owned();
        self
    }

    /// `--socket PATH` (peerctl then finds the daemon with `--socket`,
    /// otherwise with `--data-dir`).
    pub fn socket(mut self, path: &Path) -> Self {
        self.socket = Some(path.to_path_buf());
        self
    }

    /// More flags, e.g. `--relay always`.
    pub fn args(mut self, extra: &[&str]) -> Self {
        self.extra.extend(os_args(extra));
        self
    }

    /// An environment variable for the daemon (after the isolation).
    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The (empty) config file the daemon and peerctl are pointed at.
    pub fn config(&self) -> PathBuf {
        self.dir.with_extension("toml")
    }

    /// The control socket the daemon listens on.
    pub fn socket_path(&self) -> PathBuf {
        self.socket
            .clone()
            .unwrap_or_else(|| self.dir.join("peerd.sock"))
    }

    /// The command line, ready to spawn or to run to completion.
    pub fn command(&self) -> Command {
        let mut cmd = match self.wrap.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(peerd_bin());
                c
            }
            None => Command::new(peerd_bin()),
        };
        cmd.args(["start", "--server", &self.server, "--listen", &self.listen])
            .arg("--data-dir")
            .arg(&self.dir);
        if let Some(socket) = &self.socket {
            cmd.arg("--socket").arg(socket);
        }
        cmd.args(&self.extra).env("RUST_LOG", "info");
        isolate(&mut cmd, &self.config());
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd
    }

    /// Starts the daemon without waiting for anything.
    pub fn spawn(self) -> Daemon {
        let proc = Proc::spawn(&self.name, &mut self.command());
        Daemon {
            dir: self.dir.clone(),
            socket: self.socket_path(),
            proc,
            launch: self,
        }
    }

    /// Starts the daemon and waits until it is registered.
    pub fn start(self) -> Daemon {
        let daemon = self.spawn();
        daemon.wait_registered();
        daemon
    }
}

/// A running `peerd start`, killed when dropped.
pub struct Daemon {
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub proc: Proc,
    launch: Launch,
}

impl Daemon {
    /// Starts a daemon with data dir `dir` against `server` and waits until
    /// it is registered.
    pub fn start(server: SocketAddr, dir: &Path) -> Self {
        Launch::new(server, dir).start()
    }

    /// Starts a daemon with `extra` flags without waiting for anything.
    pub fn spawn(server: SocketAddr, dir: &Path, extra: &[&str]) -> Self {
        Launch::new(server, dir).args(extra).spawn()
    }

    /// The label of the daemon in messages.
    pub fn name(&self) -> &str {
        self.proc.name()
    }

    /// Kills the process (if still running) and starts it again on the
    /// same data dir and socket, without waiting.
    pub fn restart(&mut self) {
        self.proc.kill();
        self.proc = Proc::spawn(&self.launch.name, &mut self.launch.command());
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(&mut self) {
        self.proc.kill();
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the daemon.
    pub fn signal(&self, signal: libc::c_int) {
        self.proc.signal(signal);
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self) -> ExitStatus {
        self.proc.wait()
    }

    /// `stop` over the control socket, then waits for the process to exit.
    pub fn stop(&mut self) -> ExitStatus {
        self.request(Request::Stop)
            .unwrap_or_else(|e| panic!("{}: stop: {e}", self.name()));
        self.proc.wait()
    }

    /// Every log line so far.
    pub fn logs(&self) -> Vec<String> {
        self.proc.log()
    }

    /// The flags that lead `peerctl` to this daemon.
    fn locate(&self) -> Vec<OsString> {
        match &self.launch.socket {
            Some(socket) => vec!["--socket".into(), socket.into()],
            None => vec!["--data-dir".into(), self.dir.clone().into()],
        }
    }

    /// `peerctl ARGS...` against this daemon, to completion.
    pub fn peerctl(&self, args: &[&str]) -> Run {
        self.peerctl_with_input(args, "")
    }

    /// `peerctl ARGS...` against this daemon with `input` on stdin.
    pub fn peerctl_with_input(&self, args: &[&str], input: &str) -> Run {
        let mut all = self.locate();
        all.extend(os_args(args));
        peerctl_run(&self.launch.config(), &all, input)
    }

    /// A `peerctl ARGS...` against this daemon that keeps running (e.g.
    /// `inbox --follow`, `shell`).
    pub fn peerctl_spawn(&self, args: &[&str]) -> Proc {
        let mut all = self.locate();
        all.extend(os_args(args));
        peerctl_spawn(&self.launch.config(), &all)
    }
}
