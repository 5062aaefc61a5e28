//! Shared helpers of the `server_*` integration tests: start the real
//! `peerd server` binary on port 0 with a temporary database, read the
//! address it logs, talk raw UDP JSON to it, and kill it on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use peerd_shared::wire::{self, ErrorCode, Packet};
use peerd_shared::{PeerId, Seq, Token};

/// How long any single wait in these tests may take before it fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A running `peerd server`, killed (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub db: PathBuf,
    logs: Arc<Mutex<Vec<String>>>,
    /// Keeps the temporary directory alive when the server owns it.
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// A server on 127.0.0.1:0 with a fresh database and `extra` flags.
    pub fn start(extra: &[&str]) -> Self {
        Self::start_fresh("127.0.0.1:0", "info", extra)
    }

    /// A server on `listen` with a fresh database, logging at `rust_log`.
    pub fn start_fresh(listen: &str, rust_log: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("nested").join("registry.sqlite3");
        let mut s = Self::spawn(listen, &db, rust_log, extra);
        s._dir = Some(dir);
        s
    }

    /// A server listening on `listen` with the database at `db`.
    pub fn start_at(listen: &str, db: &Path, extra: &[&str]) -> Self {
        Self::spawn(listen, db, "info", extra)
    }

    fn spawn(listen: &str, db: &Path, rust_log: &str, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_peerd"))
            .arg("server")
            .args(["--listen", listen, "--db"])
            .arg(db)
            .args(extra)
            .env("RUST_LOG", rust_log)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn peerd server");
        let stderr = child.stderr.take().expect("piped stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("log lock").push(line);
            }
        });
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            db: db.to_path_buf(),
            logs,
            _dir: None,
        };
        let line = server.wait_for_log("listening on ");
        let text = line
            .rsplit("listening on ")
            .next()
            .unwrap_or_default()
            .trim();
        server.addr = text
            .parse()
            .unwrap_or_else(|_| panic!("cannot read the address in {line:?}"));
        server
    }

    /// Every stderr line so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("log lock").clone()
    }

    /// Waits until a log line contains `needle`; returns it.
    pub fn wait_for_log(&mut self, needle: &str) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(l) = self.logs().into_iter().find(|l| l.contains(needle)) {
                return l;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "peerd server exited ({status}) before logging {needle:?}:\n{}",
                    self.logs().join("\n")
                );
            }
            assert!(
                Instant::now() < end,
                "no log line {needle:?} within {DEADLINE:?}:\n{}",
                self.logs().join("\n")
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`).
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits");
        // SAFETY: kill(2) with our own child's pid has no memory effects.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < end,
                "peerd server did not exit within {DEADLINE:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A new client socket on loopback (same family as the server).
    pub fn client(&self) -> Client {
        Client::new(self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One UDP socket talking to the server.
pub struct Client {
    pub socket: UdpSocket,
    pub server: SocketAddr,
}

impl Client {
    pub fn new(server: SocketAddr) -> Self {
        let local: SocketAddr = if server.is_ipv6() {
            "[::1]:0"
        } else {
            "127.0.0.1:0"
        }
        .parse()
        .expect("literal address");
        let socket = UdpSocket::bind(local).expect("bind client socket");
        Self { socket, server }
    }

    /// This socket's address as the server sees it.
    pub fn addr(&self) -> SocketAddr {
        self.socket.local_addr().expect("local addr")
    }

    /// Sends raw bytes to the server.
    pub fn send(&self, bytes: &[u8]) {
        self.socket.send_to(bytes, self.server).expect("send");
    }

    /// The next datagram within `wait`, if any (from anyone).
    pub fn recv_within(&self, wait: Duration) -> Option<Vec<u8>> {
        let end = Instant::now() + wait;
        let mut buf = vec![0u8; 65_536];
        loop {
            let left = end.checked_duration_since(Instant::now())?;
            self.socket
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .expect("set timeout");
            match self.socket.recv_from(&mut buf) {
                Ok((n, _)) => return Some(buf[..n].to_vec()),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("recv: {e}"),
            }
        }
    }

    /// The next datagram, decoded; fails the test after [`DEADLINE`].
    pub fn recv(&self) -> Packet {
        let bytes = self
            .recv_within(DEADLINE)
            .expect("a datagram from the server");
        wire::decode(&bytes).unwrap_or_else(|e| {
            panic!(
                "undecodable reply {:?}: {e}",
                String::from_utf8_lossy(&bytes)
            )
        })
    }

    /// Asserts nothing arrives within `wait`.
    pub fn expect_silence(&self, wait: Duration) {
        if let Some(b) = self.recv_within(wait) {
            panic!("expected silence, got {:?}", String::from_utf8_lossy(&b));
        }
    }

    /// Sends `text` and returns the reply, retransmitting like a protocol
    /// client (250 ms, doubling, 5 tries).
    pub fn call(&self, text: &str) -> Packet {
        self.send(text.as_bytes());
        self.await_reply(text)
    }

    /// Waits for the reply to `text`, already sent once, retransmitting it
    /// when none comes (250 ms, doubling, 5 tries in all).
    ///
    /// Like a protocol client, it takes only a reply carrying the request's
    /// `seq` (when the request has a readable one) and skips anything else
    /// (a late duplicate answer, an INTRO), so stray datagrams never pass
    /// for the answer.
    pub fn await_reply(&self, text: &str) -> Packet {
        let want = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("seq").and_then(serde_json::Value::as_u64))
            .and_then(|n| u32::try_from(n).ok())
            .map(Seq);
        let mut wait = Duration::from_millis(250);
        for attempt in 0..5 {
            if attempt > 0 {
                self.send(text.as_bytes());
            }
            let end = Instant::now() + wait;
            while let Some(bytes) = self.recv_within(end.saturating_duration_since(Instant::now()))
            {
                let reply = wire::decode(&bytes).unwrap_or_else(|e| {
                    panic!(
                        "undecodable reply {:?}: {e}",
                        String::from_utf8_lossy(&bytes)
                    )
                });
                if want.is_none() || reply.seq() == want {
                    return reply;
                }
            }
            wait *= 2;
        }
        panic!("no reply to {text}");
    }
}

/// A fresh random token as 32 hex characters.
pub fn new_token() -> String {
    Token::generate().expect("os rng").to_hex()
}

pub fn register_json(seq: u32, token: &str) -> String {
    format!(r#"{{"v":1,"type":"REGISTER","seq":{seq},"token":"{token}"}}"#)
}

/// A request with id and token, plus `extra` fields (starting with a comma).
pub fn request_json(kind: &str, seq: u32, id: PeerId, token: &str, extra: &str) -> String {
    format!(r#"{{"v":1,"type":"{kind}","seq":{seq},"id":{id},"token":"{token}"{extra}}}"#)
}

/// A registered peer: its socket, token and id.
pub struct Peer {
    pub client: Client,
    pub token: String,
    pub id: PeerId,
    next_seq: u32,
}

impl Peer {
    /// Registers a new token from a new socket.
    pub fn join(server: &Server) -> Self {
        Self::join_with(server.client(), new_token())
    }

    /// Registers `token` from `client`.
    pub fn join_with(client: Client, token: String) -> Self {
        client.send(register_json(1, &token).as_bytes());
        Self::joined(client, token)
    }

    /// Reads the REGISTER_ACK of a REGISTER (seq 1) `client` already sent.
    pub fn joined(client: Client, token: String) -> Self {
        let reply = client.await_reply(&register_json(1, &token));
        let Packet::RegisterAck { id, addr, seq, .. } = reply else {
            panic!("REGISTER answered {reply:?}");
        };
        assert_eq!(seq, Seq(1));
        assert_eq!(
            addr,
            client.addr(),
            "REGISTER_ACK carries the observed address"
        );
        Self {
            client,
            token,
            id,
            next_seq: 2,
        }
    }

    /// The next unused seq.
    pub fn seq(&mut self) -> u32 {
        self.next_seq += 1;
        self.next_seq
    }

    /// A request of this peer as JSON text.
    pub fn json(&mut self, kind: &str, extra: &str) -> String {
        let seq = self.seq();
        request_json(kind, seq, self.id, &self.token, extra)
    }

    /// Sends a request and returns the reply.
    pub fn call(&mut self, kind: &str, extra: &str) -> Packet {
        let text = self.json(kind, extra);
        self.client.call(&text)
    }
}

/// The code of an ERROR, or a failure naming what came instead.
pub fn code_of(p: &Packet) -> ErrorCode {
    match p {
        Packet::Error { code, .. } => *code,
        other => panic!("expected an ERROR, got {other:?}"),
    }
}

/// Polls `f` until it returns `Some`, failing after [`DEADLINE`].
pub fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Raises the soft open-files limit (tests with ~1000 sockets).
pub fn raise_fd_limit(want: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Registers `n` new peers, each from its own socket, sending all REGISTERs
/// before reading the acks (so the server stores the new ids in batches).
pub fn join_many(server: &Server, n: usize) -> Vec<Peer> {
    raise_fd_limit(n as u64 + 256);
    let pending: Vec<(Client, String)> = (0..n).map(|_| (server.client(), new_token())).collect();
    for (c, t) in &pending {
        c.send(register_json(1, t).as_bytes());
    }
    pending
        .into_iter()
        .map(|(client, token)| Peer::joined(client, token))
        .collect()
}

impl Peer {
    /// The seq of the last request built by [`Peer::json`].
    pub fn next_seq_used(&self) -> Seq {
        Seq(self.next_seq)
    }
}

impl Client {
    /// Discards every datagram already queued on this socket.
    pub fn drain(&self) -> usize {
        let mut n = 0;
        while self.recv_within(Duration::from_millis(5)).is_some() {
            n += 1;
        }
        n
    }
}
