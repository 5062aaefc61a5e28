//! A cluster on loopback for the tests: a PostgreSQL of its own (initdb in
//! a temporary directory, run as the unprivileged user `nobody` when the
//! tests run as root), a NATS server of its own, and `peerd server` nodes
//! sharing one key file, each started with `--cluster-db`, `--cluster-bus`
//! and `--node`. Every process is stopped when dropped.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::bins::peerd_bin;
use super::poll::{Timeout, DEADLINE};
use super::process::Proc;
use super::server::Server;

/// The uid and gid of `nobody` on Debian.
const NOBODY: u32 = 65534;

/// Where the PostgreSQL programs are: on the PATH, else the newest
/// `/usr/lib/postgresql/*/bin` (Debian keeps them there).
fn pg_bin(name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
    {
        return path;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin").join(name)))
        })
        .filter(|(_, p)| p.is_file())
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p).unwrap_or_else(|| {
        panic!("{name} not found: install the Debian package postgresql (.ci/test does)")
    })
}

fn nats_bin() -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("nats-server not found: install the Debian package nats-server (.ci/test does)")
        })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `cmd` as `nobody` when the tests run as root (PostgreSQL refuses
/// to run as root).
fn unprivileged(cmd: &mut Command) {
    if is_root() {
        cmd.uid(NOBODY).gid(NOBODY);
    }
}

fn chown_nobody(path: &Path) {
    if is_root() {
        std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY))
            .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    }
}

/// A free TCP port on 127.0.0.1 right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free TCP port")
        .port()
}

/// A PostgreSQL server of the test's own.
pub struct Postgres {
    pub port: u16,
    data: PathBuf,
    proc: Option<Proc>,
    fsync: bool,
    _dir: tempfile::TempDir,
}

impl Postgres {
    /// initdb in a new temporary directory, then start on a free port.
    /// `fsync` off makes commits cheap (tests); on, they are durable.
    pub fn start(fsync: bool) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("peerd-pg")
            .tempdir()
            .expect("temp dir");
        chown_nobody(dir.path());
        let data = dir.path().join("data");
        let mut init = Command::new(pg_bin("initdb"));
        init.args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "-D",
        ])
        .arg(&data)
        .env("HOME", dir.path());
        unprivileged(&mut init);
        let run = Proc::run("initdb", &mut init);
        assert!(run.success(), "initdb failed: {run:?}");
        let mut pg = Self {
            port: 0,
            data,
            proc: None,
            fsync,
            _dir: dir,
        };
        pg.launch(None);
        pg
    }

    /// Starts the server (again, on `port` or a free one).
    fn launch(&mut self, port: Option<u16>) {
        // A port found free may be taken before the server binds it (ports
        // are shared by the whole machine): another one is tried then.
        for _ in 0..5 {
            let port = port.unwrap_or_else(free_port);
            let mut cmd = Command::new(pg_bin("postgres"));
            cmd.arg("-D")
                .arg(&self.data)
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-k"])
                .arg(self.data.parent().expect("data dir has a parent"))
                .args(["-c", "max_connections=50", "-c", "log_min_messages=warning"])
                .args([
                    "-c",
                    &format!("fsync={}", if self.fsync { "on" } else { "off" }),
                ])
                .env("HOME", self.data.parent().expect("parent"));
            unprivileged(&mut cmd);
            let proc = Proc::spawn("postgres", &mut cmd);
            let ready = proc
                .stderr
                .wait_until("postgres to start", DEADLINE, |log| {
                    if log.contains("ready to accept connections") {
                        Some(true)
                    } else if log.contains("could not bind")
                        || log.contains("could not create any TCP")
                    {
                        Some(false)
                    } else {
                        None
                    }
                });
            match ready {
                Ok(true) => {
                    self.port = port;
                    self.proc = Some(proc);
                    return;
                }
                Ok(false) if self.port == 0 => continue,
                Ok(false) => panic!(
                    "postgres cannot bind port {port} again:\n{}",
                    proc.output_tail(20)
                ),
                Err(t) => panic!("{t}\n{}", proc.output_tail(30)),
            }
        }
        panic!("postgres found no free port in 5 tries");
    }

    /// The URL the nodes connect with.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server at once (SIGQUIT: immediate shutdown), as a crash
    /// would; clients see their connections close.
    pub fn stop(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            proc.signal(libc::SIGQUIT);
            let _ = proc.wait_within(DEADLINE);
        }
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.launch(Some(self.port));
    }

    /// Rows of `peerd_keys`: (id, key as hex), by id, read with psql.
    pub fn keys(&self) -> Vec<(u64, String)> {
        let mut cmd = Command::new(pg_bin("psql"));
        cmd.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
        ])
        .args(["-At", "-F", " ", "-c"])
        .arg("SELECT id, encode(key, 'hex') FROM peerd_keys ORDER BY id");
        let out = Proc::run("psql", &mut cmd);
        assert!(out.success(), "psql: {out:?}");
        out.stdout
            .lines()
            .filter_map(|l| {
                let (id, key) = l.split_once(' ')?;
                Some((id.parse().ok()?, key.to_owned()))
            })
            .collect()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A NATS server of the test's own.
pub struct Nats {
    pub port: u16,
    proc: Option<Proc>,
}

impl Nats {
    /// On a free port of 127.0.0.1 (the server picks it).
    pub fn start() -> Self {
        let mut nats = Self {
            port: 0,
            proc: None,
        };
        nats.launch("-1");
        nats
    }

    fn launch(&mut self, port: &str) {
        let mut cmd = Command::new(nats_bin());
        cmd.args(["-a", "127.0.0.1", "-p", port]);
        let proc = Proc::spawn("nats-server", &mut cmd);
        let bound = proc
            .stderr
            .wait_until("nats-server to listen", DEADLINE, |log| {
                let line = log
                    .lines()
                    .find(|l| l.contains("Listening for client connections on "))?;
                line.rsplit(':').next()?.trim().parse::<u16>().ok()
            })
            .unwrap_or_else(|t| panic!("{t}\n{}", proc.output_tail(20)));
        self.port = bound;
        self.proc = Some(proc);
    }

    /// The URL the nodes connect with.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL): the nodes lose the bus.
    pub fn kill(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            proc.kill();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        let port = self.port.to_string();
        self.launch(&port);
    }
}

/// The nodes' common settings.
pub struct Engines {
    pub pg: Postgres,
    pub nats: Nats,
    /// The key file every node uses.
    pub key_file: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Engines {
    /// A fresh PostgreSQL (fsync off) and NATS, and a place for the key.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self {
            key_file: dir.path().join("server.key"),
            pg: Postgres::start(false),
            nats: Nats::start(),
            dir,
        }
    }

    /// The command line of node `name` (not started), with `extra` flags.
    pub fn node_command(&self, name: &str, extra: &[&str]) -> Command {
        let mut cmd = Command::new(peerd_bin());
        cmd.args(["server", "--listen", "127.0.0.1:0", "--threads", "1"])
            .args(["--cluster-db", &self.pg.url()])
            .args(["--cluster-bus", &self.nats.url()])
            .args(["--node", name])
            .arg("--key-file")
            .arg(&self.key_file)
            .args(extra)
            .env("RUST_LOG", "info");
        super::bins::isolate(&mut cmd, &self.dir.path().join(format!("{name}.toml")));
        cmd
    }

    /// Starts node `name` and waits until it listens.
    pub fn node(&self, name: &str, extra: &[&str]) -> Server {
        self.try_node(name, extra).unwrap_or_else(|t| panic!("{t}"))
    }

    /// Starts node `name`; a timeout if it never listens.
    pub fn try_node(&self, name: &str, extra: &[&str]) -> Result<Server, Timeout> {
        let cmd = self.node_command(name, extra);
        Server::launch(cmd, &self.key_file, &format!("node {name}"))
    }
}

/// How long a test waits for the cluster to converge (generous: a loaded
/// 2-core machine).
pub const CONVERGE: Duration = DEADLINE;

/// A node's address list for `--server`: the nodes' addresses, in order.
pub fn servers(nodes: &[&Server]) -> String {
    nodes
        .iter()
        .map(|n| n.addr.to_string())
        .collect::<Vec<_>>()
        .join(",")
}
