//! Unit tests of the server's protocol core on a fake clock: every request
//! and error of docs/protocol.md 5, the handshake checks of section 3, and
//! hostile input, without sockets; the answer to protocol v1 JSON as
//! properties. [`Harness`] drives the [`Registry`];
//! [`Client`] is a daemon's side built from `peerd_shared::proto` alone.
//! `handshakes.rs`, `requests.rs`, `sessions.rs` and `legacy.rs` hold the
//! tests of handshakes, requests, sessions over time and protocol v1.

mod handshakes;
mod legacy;
mod requests;
mod sessions;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use peerd_shared::proto::frame::Frame;
use peerd_shared::proto::handshake::{Identity, Initiator};
use peerd_shared::proto::{
    Body, InitPayload, PublicKey, RespPayload, SecretKey, Session, SERVER_WINDOW_WORDS,
};
use peerd_shared::{PeerId, Seq};

use super::args::Limits;
use super::registry::Registry;
use super::reply_buffer::{Persist, ReplyBuffer};

pub const KEEPALIVE: Duration = Duration::from_secs(10);

pub fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

pub fn id(n: u64) -> PeerId {
    PeerId::new(n).expect("valid id")
}

/// A fixed key: 32 bytes of `n`.
pub fn secret(n: u8) -> SecretKey {
    SecretKey::from_bytes([n; 32])
}

/// The server core, its clock and its reply buffer.
pub struct Harness {
    pub reg: Registry,
    pub server: PublicKey,
    pub epoch: Instant,
    pub out: ReplyBuffer,
}

pub fn limits() -> Limits {
    Limits {
        keepalive: KEEPALIVE,
        rate_per_source: 0,
        burst_per_source: 1,
        global_rate: 0,
        replay_capacity: 1024,
        handshake_rate: 0,
        cookie_threshold: 0,
    }
}

impl Harness {
    pub fn new() -> Self {
        Self::with(limits())
    }

    pub fn with(limits: Limits) -> Self {
        let epoch = Instant::now();
        let identity = Identity::new(secret(200));
        Self {
            server: identity.public,
            reg: Registry::new(identity, limits, [], 0, epoch),
            epoch,
            out: ReplyBuffer::new(),
        }
    }

    pub fn at(&self, secs: f64) -> Instant {
        self.epoch + Duration::from_secs_f64(secs)
    }

    /// Feeds `bytes` from port `from` at `secs`; returns the answers.
    pub fn send(&mut self, from: u16, secs: f64, bytes: &[u8]) -> Vec<(SocketAddr, Vec<u8>)> {
        self.out.clear();
        let now = self.at(secs);
        self.reg.handle(bytes, addr(from), now, &mut self.out);
        self.drain()
    }

    pub fn drain(&self) -> Vec<(SocketAddr, Vec<u8>)> {
        self.out
            .datagrams()
            .map(|(to, b)| (to, b.to_vec()))
            .collect()
    }

    /// New ids the last call asked the database to store.
    pub fn new_ids(&self) -> Vec<PeerId> {
        self.out
            .persist
            .iter()
            .filter_map(|p| match p {
                Persist::New { id, .. } => Some(*id),
                Persist::Timestamp { .. } => None,
            })
            .collect()
    }

    /// The database stored (or failed) the new ids; returns the answers.
    pub fn durable(&mut self, ok: bool, secs: f64) -> Vec<(SocketAddr, Vec<u8>)> {
        let ids = self.new_ids();
        self.out.clear();
        let now = self.at(secs);
        self.reg.on_durable(&ids, ok, now, &mut self.out);
        self.drain()
    }

    /// A client with key `n` on port `port`, registered at `secs`.
    pub fn join(&mut self, n: u8, port: u16, secs: f64) -> Client {
        let mut c = Client::new(n, port, self.server);
        c.register(self, secs);
        c
    }

    pub fn sweep(&mut self, secs: f64) {
        let now = self.at(secs);
        self.reg.sweep(now);
    }
}

/// A daemon's side of the protocol, for tests.
pub struct Client {
    pub identity: Identity,
    pub port: u16,
    pub server: PublicKey,
    pub session: Option<Session<SERVER_WINDOW_WORDS>>,
    pub id: Option<PeerId>,
    /// Next handshake timestamp.
    pub ts: u64,
    pub index: u32,
}

impl Client {
    pub fn new(n: u8, port: u16, server: PublicKey) -> Self {
        Self {
            identity: Identity::new(secret(n)),
            port,
            server,
            session: None,
            id: None,
            ts: 1_000,
            index: u32::from(n) << 8,
        }
    }

    /// A fresh REGISTER handshake (and what to finish it with).
    pub fn init(&mut self, cookie: Option<&[u8; 16]>) -> (Vec<u8>, Initiator) {
        self.ts += 1;
        self.index += 1;
        let payload = InitPayload::Register { timestamp: self.ts };
        Initiator::start(
            &self.identity,
            &self.server,
            self.index,
            &payload,
            cookie,
            None,
        )
        .expect("handshake")
    }

    /// Reads a HANDSHAKE_RESP; installs the session on REGISTERED.
    pub fn finish(&mut self, init: Initiator, resp: &[u8]) -> RespPayload {
        let Ok(Frame::Resp(r)) = Frame::parse(resp) else {
            panic!("not a handshake response: {resp:02x?}")
        };
        assert_eq!(r.receiver, init.sender);
        let sender = init.sender;
        let (keys, payload) = init
            .finish(&self.identity, &r)
            .expect("response authenticates");
        if let RespPayload::Registered { id, .. } = payload {
            self.id = Some(id);
            self.session = Some(Session::new(keys, sender, r.sender));
        }
        payload
    }

    /// Registers (a new key is stored by the harness's database at once).
    pub fn register(&mut self, h: &mut Harness, secs: f64) -> RespPayload {
        let (bytes, init) = self.init(None);
        let mut answers = h.send(self.port, secs, &bytes);
        if answers.is_empty() && !h.new_ids().is_empty() {
            answers = h.durable(true, secs);
        }
        match answers.as_slice() {
            [(to, resp)] => {
                assert_eq!(*to, addr(self.port));
                self.finish(init, resp)
            }
            other => panic!("expected one handshake response, got {other:?}"),
        }
    }

    /// A TRANSPORT frame carrying `body` on the current session.
    pub fn frame(&mut self, body: &Body<'_>) -> Vec<u8> {
        let mut plain = Vec::new();
        body.encode(&mut plain);
        let mut out = Vec::new();
        self.session
            .as_mut()
            .expect("registered")
            .seal(&plain, &mut out)
            .expect("fits");
        out
    }

    /// Opens a frame from the server; `None` if it does not authenticate.
    pub fn open(&mut self, bytes: &[u8]) -> Option<Body<'static>> {
        let Ok(Frame::Transport(t)) = Frame::parse(bytes) else {
            return None;
        };
        let mut buf = Vec::new();
        let plain = self.session.as_mut()?.open(&t, &mut buf).ok()?;
        let body = Body::decode(plain).ok()?;
        Some(owned(body))
    }

    /// Sends `body` at `secs`; returns what came back to this client,
    /// opened, and the datagrams for others (still sealed).
    pub fn ask(&mut self, h: &mut Harness, secs: f64, body: &Body<'_>) -> Exchange {
        let frame = self.frame(body);
        self.deliver(h, secs, &frame)
    }

    /// Sends raw `bytes` at `secs` (a retransmission, a replay).
    pub fn deliver(&mut self, h: &mut Harness, secs: f64, bytes: &[u8]) -> Exchange {
        let answers = h.send(self.port, secs, bytes);
        let mut ex = Exchange::default();
        for (to, b) in answers {
            if to == addr(self.port) {
                ex.mine
                    .push(self.open(&b).expect("a reply to the asker authenticates"));
            } else {
                ex.others.push((to, b));
            }
        }
        ex
    }
}

/// What one request brought back.
#[derive(Debug, Default)]
pub struct Exchange {
    pub mine: Vec<Body<'static>>,
    pub others: Vec<(SocketAddr, Vec<u8>)>,
}

impl Exchange {
    /// The one reply to the asker.
    pub fn reply(&self) -> &Body<'static> {
        match self.mine.as_slice() {
            [b] => b,
            other => panic!("expected one reply, got {other:?}"),
        }
    }
}

/// A decoded body with its borrowed fields leaked, for assertions.
fn owned(b: Body<'_>) -> Body<'static> {
    let leak_bytes = |d: &[u8]| -> &'static [u8] { Box::leak(d.to_vec().into_boxed_slice()) };
    let leak_str = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
    match b {
        Body::Relay { seq, target, data } => Body::Relay {
            seq,
            target,
            data: leak_bytes(data),
        },
        Body::Relayed { from, data } => Body::Relayed {
            from,
            data: leak_bytes(data),
        },
        Body::Error { seq, code, message } => Body::Error {
            seq,
            code,
            message: leak_str(message),
        },
        Body::Message { msg, ts, text } => Body::Message {
            msg,
            ts,
            text: leak_str(text),
        },
        Body::Keepalive { seq } => Body::Keepalive { seq },
        Body::List { seq, after } => Body::List { seq, after },
        Body::Connect { seq, target } => Body::Connect { seq, target },
        Body::Unregister { seq } => Body::Unregister { seq },
        Body::KeepaliveAck {
            seq,
            keepalive,
            addr,
        } => Body::KeepaliveAck {
            seq,
            keepalive,
            addr,
        },
        Body::ListAck { seq, more, peers } => Body::ListAck { seq, more, peers },
        Body::ConnectAck {
            seq,
            target,
            key,
            addr,
        } => Body::ConnectAck {
            seq,
            target,
            key,
            addr,
        },
        Body::UnregisterAck { seq } => Body::UnregisterAck { seq },
        Body::RelayAck { seq } => Body::RelayAck { seq },
        Body::Intro { from, key, addr } => Body::Intro { from, key, addr },
        Body::MessageAck { msg } => Body::MessageAck { msg },
        Body::Probe { nonce } => Body::Probe { nonce },
        Body::ProbeAck { nonce } => Body::ProbeAck { nonce },
    }
}

/// The error code of a reply, if it is an ERROR.
pub fn error_code(b: &Body<'_>) -> Option<peerd_shared::proto::ErrorCode> {
    match b {
        Body::Error { code, .. } => Some(*code),
        _ => None,
    }
}

/// Shorthand for a `seq`.
pub fn seq(n: u32) -> Seq {
    Seq(n)
}
