//! Peers registered with a server from raw sockets, speaking protocol v2
//! through `peerd_shared::proto`: a [`Peer`] registers by handshake,
//! confirms its session with a KEEPALIVE, sends requests ([`Req`]) and
//! retransmits them under the same `seq` (a new TRANSPORT frame each try)
//! until the reply with that `seq` comes, and keeps what else the server
//! sent (INTRO, RELAYED) for [`Peer::next`]. Hostile tests get at the raw
//! layer: [`Peer::seal`] makes a frame to send, replay or tamper with.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use peerd_shared::proto::{Body, ErrorCode, Frame, RespPayload};
use peerd_shared::{PeerId, Seq};

use super::handshake::{handshake, Answer, Attempt, Keys, ServerSession};
use super::poll::DEADLINE;
use super::server::Server;
use super::udp::{recv_matching, Client};

/// First retransmission timeout of a request (section 9).
const RETRY: Duration = Duration::from_millis(250);
/// Tries per request, the first included.
const TRIES: u32 = 5;
/// Sessions a peer keeps (section 4: the four newest).
const KEPT_SESSIONS: usize = 4;

/// A request, without its `seq` (the peer numbers them).
#[derive(Debug, Clone, Copy)]
pub enum Req<'a> {
    Keepalive,
    /// LIST of the online peers with ids above `after`.
    List(u64),
    Connect(PeerId),
    Unregister,
    /// RELAY of `data` to a target.
    Relay(PeerId, &'a [u8]),
}

impl<'a> Req<'a> {
    /// The request's payload with `seq`.
    pub fn body(self, seq: Seq) -> Body<'a> {
        match self {
            Req::Keepalive => Body::Keepalive { seq },
            Req::List(after) => Body::List { seq, after },
            Req::Connect(target) => Body::Connect { seq, target },
            Req::Unregister => Body::Unregister { seq },
            Req::Relay(target, data) => Body::Relay { seq, target, data },
        }
    }
}

/// An authenticated payload from the server, decoded on demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload(pub Vec<u8>);

impl Payload {
    /// The payload decoded; fails the test if the server sent a malformed
    /// one.
    pub fn body(&self) -> Body<'_> {
        Body::decode(&self.0).unwrap_or_else(|e| panic!("malformed payload {:02x?}: {e}", self.0))
    }

    /// The `seq` of a reply or ERROR.
    pub fn seq(&self) -> Option<Seq> {
        match self.body() {
            Body::KeepaliveAck { seq, .. }
            | Body::ListAck { seq, .. }
            | Body::ConnectAck { seq, .. }
            | Body::UnregisterAck { seq }
            | Body::RelayAck { seq }
            | Body::Error { seq, .. } => Some(seq),
            _ => None,
        }
    }

    /// The code of an ERROR, or a failure naming what came instead.
    pub fn code(&self) -> ErrorCode {
        match self.body() {
            Body::Error { code, .. } => code,
            other => panic!("expected an ERROR, got {other:?}"),
        }
    }

    /// The entries and `more` of a LIST_ACK.
    pub fn listed(&self) -> (Vec<(PeerId, SocketAddr)>, bool) {
        match self.body() {
            Body::ListAck { peers, more, .. } => (peers, more),
            other => panic!("expected a LIST_ACK, got {other:?}"),
        }
    }
}

/// A registered peer: its socket, keys, id and sessions.
pub struct Peer {
    pub client: Client,
    pub keys: Keys,
    pub id: PeerId,
    /// The keepalive period of the last REGISTERED, seconds.
    pub keepalive: u16,
    /// The source address the last REGISTERED said the server saw.
    pub seen_as: SocketAddr,
    /// The INIT the last REGISTERED answered (a replay of it must fail).
    pub init: Vec<u8>,
    /// Newest first.
    sessions: VecDeque<ServerSession>,
    next_seq: u32,
    /// Payloads that came while a reply was awaited.
    backlog: VecDeque<Payload>,
}

impl Peer {
    /// Registers a new key from a new socket.
    pub fn join(server: &Server) -> Self {
        Self::join_with(server.client(), Keys::new(server.key()))
    }

    /// Registers `keys` from `client`.
    pub fn join_with(client: Client, mut keys: Keys) -> Self {
        let mut stash = Vec::new();
        let answer = handshake(&client, &mut keys, &mut stash);
        Self::joined(client, keys, answer)
    }

    /// A peer from the answer to its handshake, confirmed with a KEEPALIVE.
    pub fn joined(client: Client, keys: Keys, answer: Answer) -> Self {
        let (
            RespPayload::Registered {
                id,
                keepalive,
                addr,
            },
            Some(session),
        ) = (answer.payload.clone(), answer.session)
        else {
            panic!(
                "REGISTER from {} answered {:?}",
                client.addr(),
                answer.payload
            );
        };
        let mut peer = Self {
            client,
            keys,
            id,
            keepalive,
            seen_as: addr,
            init: answer.init,
            sessions: VecDeque::from([session]),
            next_seq: super::handshake::rand_u32() >> 1,
            backlog: VecDeque::new(),
        };
        peer.confirm();
        peer
    }

    /// Confirms the newest session (section 3): a KEEPALIVE, answered.
    fn confirm(&mut self) {
        let ack = self.call(Req::Keepalive);
        assert!(
            matches!(ack.body(), Body::KeepaliveAck { .. }),
            "KEEPALIVE on a new session answered {:?}",
            ack.body()
        );
    }

    /// A new REGISTER handshake from this peer's socket; on REGISTERED the
    /// new session becomes the newest and is confirmed. Returns the
    /// server's payload.
    pub fn register(&mut self) -> RespPayload {
        let mut stash = Vec::new();
        let answer = handshake(&self.client, &mut self.keys, &mut stash);
        for bytes in stash {
            self.keep(&bytes);
        }
        if let (
            RespPayload::Registered {
                id,
                keepalive,
                addr,
            },
            Some(session),
        ) = (&answer.payload, answer.session)
        {
            (self.id, self.keepalive, self.seen_as) = (*id, *keepalive, *addr);
            self.init = answer.init;
            self.sessions.push_front(session);
            self.sessions.truncate(KEPT_SESSIONS);
            self.confirm();
        }
        answer.payload
    }

    /// A fresh `seq`.
    pub fn seq(&mut self) -> Seq {
        self.next_seq = self.next_seq.wrapping_add(1);
        Seq(self.next_seq)
    }

    /// The server's index of the newest session (the `receiver` of frames
    /// sent on it), for forgeries.
    pub fn receiver(&self) -> u32 {
        self.newest().remote
    }

    fn newest(&self) -> &ServerSession {
        self.sessions
            .front()
            .expect("a registered peer has a session")
    }

    /// A TRANSPORT frame carrying `payload` on the newest session.
    pub fn seal(&mut self, payload: &[u8]) -> Vec<u8> {
        let mut frame = Vec::new();
        let session = self.sessions.front_mut().expect("a session");
        session.seal(payload, &mut frame).expect("the payload fits");
        frame
    }

    /// `body` encoded.
    pub fn encode(body: &Body<'_>) -> Vec<u8> {
        let mut payload = Vec::new();
        body.encode(&mut payload);
        payload
    }

    /// Sends `req` with a fresh `seq`; returns the reply.
    pub fn call(&mut self, req: Req<'_>) -> Payload {
        let seq = self.seq();
        self.request(&req.body(seq))
    }

    /// Sends `body` (a request carrying a `seq`) and returns the reply with
    /// that `seq`, an ERROR included.
    pub fn request(&mut self, body: &Body<'_>) -> Payload {
        let payload = Self::encode(body);
        let seq = Seq(u32::from_be_bytes(payload[1..5].try_into().expect("a seq")));
        self.exchange(&payload, seq)
    }

    /// Sends `payload` (any bytes) until the reply carrying `seq` comes:
    /// retransmitted after 250 ms, doubling, 5 tries (each a new frame);
    /// then waits on (a loaded machine) until [`DEADLINE`].
    pub fn exchange(&mut self, payload: &[u8], seq: Seq) -> Payload {
        let start = Instant::now();
        let mut wait = RETRY;
        for _ in 0..TRIES {
            let frame = self.seal(payload);
            self.client.send(&frame);
            if let Some(p) = self.await_payload(wait, |p| p.seq() == Some(seq)) {
                return p;
            }
            wait *= 2;
        }
        let rest = DEADLINE.saturating_sub(start.elapsed());
        self.await_payload(rest, |p| p.seq() == Some(seq))
            .unwrap_or_else(|| panic!("no reply with seq {seq} to {payload:02x?}"))
    }

    /// The next payload that `want` accepts, from the backlog or the
    /// socket within `wait`; others go to the backlog.
    fn await_payload(
        &mut self,
        wait: Duration,
        want: impl Fn(&Payload) -> bool,
    ) -> Option<Payload> {
        if let Some(at) = self.backlog.iter().position(&want) {
            return self.backlog.remove(at);
        }
        let end = Instant::now() + wait;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let bytes = recv_matching(&self.client.socket, left, |b, from| {
                (from == self.client.server).then(|| b.to_vec())
            })
            .ok()?;
            if let Some(p) = self.open(&bytes) {
                if want(&p) {
                    return Some(p);
                }
                self.backlog.push_back(p);
            }
        }
    }

    /// Opens a datagram on the session it names; `None` if it is not a
    /// frame of ours that authenticates.
    pub fn open(&mut self, bytes: &[u8]) -> Option<Payload> {
        let Ok(Frame::Transport(t)) = Frame::parse(bytes) else {
            return None;
        };
        let session = self.sessions.iter_mut().find(|s| s.local == t.receiver)?;
        let mut buf = Vec::new();
        let plain = session.open(&t, &mut buf).ok()?;
        Some(Payload(plain.to_vec()))
    }

    fn keep(&mut self, bytes: &[u8]) {
        if let Some(p) = self.open(bytes) {
            self.backlog.push_back(p);
        }
    }

    /// The next payload that is not a reply (INTRO, RELAYED); fails the
    /// test after [`DEADLINE`].
    pub fn next(&mut self) -> Payload {
        self.await_payload(DEADLINE, |p| p.seq().is_none())
            .unwrap_or_else(|| panic!("nothing unasked from the server for id {}", self.id))
    }

    /// Asserts that no authenticated payload arrives within `wait` (nor
    /// waits in the backlog).
    pub fn expect_nothing(&mut self, wait: Duration) {
        if let Some(p) = self.await_payload(wait, |_| true) {
            panic!("id {}: expected nothing, got {:?}", self.id, p.body());
        }
    }

    /// Every authenticated payload until `quiet` passes without one (the
    /// first may take up to [`DEADLINE`]).
    pub fn recv_burst(&mut self, quiet: Duration) -> Vec<Payload> {
        let mut got: Vec<Payload> = self.await_payload(DEADLINE, |_| true).into_iter().collect();
        while let Some(p) = self.await_payload(quiet, |_| true) {
            got.push(p);
        }
        got
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

/// Registers `n` new keys, each from its own socket, sending every first
/// INIT before reading any answer (so the server stores the new ids in
/// batches). The server needs `--handshake-limit` above `n` (or 0): the
/// sockets share one IP.
pub fn join_many(server: &Server, n: usize) -> Vec<Peer> {
    let key = server.key();
    join_all(server, (0..n).map(|_| Keys::new(key)).collect())
}

/// Registers every one of `keys`, each from a new socket, sending every
/// first INIT before reading any answer (see [`join_many`]).
pub fn join_all(server: &Server, keys: Vec<Keys>) -> Vec<Peer> {
    raise_fd_limit(keys.len() as u64 + 256);
    let mut started: Vec<(Client, Keys, Attempt)> = keys
        .into_iter()
        .map(|mut keys| {
            let client = server.client();
            let attempt = Attempt::start(&client, &mut keys);
            (client, keys, attempt)
        })
        .collect();
    started
        .drain(..)
        .map(|(client, mut keys, attempt)| {
            let answer = attempt
                .finish(&client, &mut keys, &mut Vec::new())
                .unwrap_or_else(|t| panic!("REGISTER from {}: {t}", client.addr()));
            Peer::joined(client, keys, answer)
        })
        .collect()
}
