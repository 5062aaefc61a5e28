//! The REGISTER handshake of a test client (docs/protocol.md 3 and 5.1),
//! built on `peerd_shared::proto` alone: [`Keys`] makes fresh
//! HANDSHAKE_INITs (a new index, ephemeral key and timestamp each, `mac2`
//! once a cookie is held), and an [`Attempt`] retransmits them on the
//! spec's schedule until a HANDSHAKE_RESP answers any of them, taking a
//! COOKIE_REPLY on the way when the server is under load.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use peerd_shared::proto::cookie::open_reply;
use peerd_shared::proto::frame::CookieReply;
use peerd_shared::proto::{
    Frame, Identity, InitPayload, Initiator, PublicKey, RespPayload, SecretKey, Session,
    SERVER_WINDOW_WORDS,
};

use super::poll::{Timeout, DEADLINE};
use super::udp::{recv_matching, Client};

/// A session with the server, as the client holds it.
pub type ServerSession = Session<SERVER_WINDOW_WORDS>;

/// How long an INIT of an attempt may still be answered (section 3).
const ATTEMPT_WINDOW: Duration = Duration::from_secs(15);

/// The wait after the `n`-th INIT of an attempt (0-based), section 9: a
/// round is 5 INITs 250, 500, 1000 and 2000 ms apart, unanswered 4 s after
/// its fifth; the next round starts 0.5 s later, that pause doubling up to
/// 5 s.
pub fn gap_after(n: u32) -> Duration {
    let (round, i) = (n / 5, n % 5);
    let ms = if i < 4 {
        250 << i
    } else {
        4000 + (500u64 << round.min(4)).min(5000)
    };
    Duration::from_millis(ms)
}

/// A client's identity towards one server: its key pair, the server's
/// key, the newest timestamp sent and the cookie it holds.
#[derive(Debug, Clone)]
pub struct Keys {
    pub identity: Identity,
    pub server: PublicKey,
    last_ts: u64,
    next_index: u32,
    cookie: Option<[u8; 16]>,
}

impl Keys {
    /// A fresh key pair for the server with key `server`.
    pub fn new(server: PublicKey) -> Self {
        let secret = SecretKey::generate().expect("a key from the OS generator");
        Self::with(Identity::new(secret), server)
    }

    /// An existing key pair (the same key from another socket).
    pub fn with(identity: Identity, server: PublicKey) -> Self {
        Self {
            identity,
            server,
            last_ts: 0,
            next_index: rand_u32(),
            cookie: None,
        }
    }

    /// This client's public key.
    pub fn public(&self) -> PublicKey {
        self.identity.public
    }

    /// The next handshake timestamp: the clock in ns, strictly above the
    /// last one sent (section 1.1).
    pub fn timestamp(&mut self) -> u64 {
        let clock = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.last_ts = clock.max(self.last_ts + 1);
        self.last_ts
    }

    /// Keeps the cookie of `reply`, which answers `init`; false if it does
    /// not open.
    pub fn take_cookie(&mut self, reply: &CookieReply, init: &Initiator) -> bool {
        let cookie = open_reply(&self.server, reply, &init.mac1);
        self.cookie = cookie.or(self.cookie);
        cookie.is_some()
    }

    /// Whether a cookie is held (the next INIT carries `mac2`).
    pub fn has_cookie(&self) -> bool {
        self.cookie.is_some()
    }

    /// A fresh REGISTER INIT (with `mac2` when a cookie is held), and the
    /// state that reads its answer.
    pub fn init(&mut self) -> (Vec<u8>, Initiator) {
        self.next_index = self.next_index.wrapping_add(1);
        let payload = InitPayload::Register {
            timestamp: self.timestamp(),
        };
        Initiator::start(
            &self.identity,
            &self.server,
            self.next_index,
            &payload,
            self.cookie.as_ref(),
            None,
        )
        .expect("a REGISTER handshake fits a datagram")
    }
}

/// A random u32 (session indices).
pub fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).expect("OS randomness");
    u32::from_be_bytes(b)
}

/// What a finished handshake gave: the server's payload, and the session
/// when it was REGISTERED.
#[derive(Debug)]
pub struct Answer {
    pub payload: RespPayload,
    pub session: Option<ServerSession>,
    /// INITs the attempt sent.
    pub tries: u32,
    /// The bytes of the INIT that was answered (to replay it).
    pub init: Vec<u8>,
}

/// An INIT of an attempt: when it was sent, its bytes, and the state that
/// reads its answer.
struct Sent {
    at: Instant,
    bytes: Vec<u8>,
    init: Initiator,
}

/// One handshake attempt in flight: every INIT sent (an answer to any of
/// them is taken), when the next one is due.
pub struct Attempt {
    sent: Vec<Sent>,
    next_due: Instant,
    tries: u32,
}

impl Attempt {
    /// Sends the first INIT.
    pub fn start(client: &Client, keys: &mut Keys) -> Self {
        let now = Instant::now();
        let mut a = Self {
            sent: Vec::new(),
            next_due: now,
            tries: 0,
        };
        a.send_init(client, keys);
        a
    }

    fn send_init(&mut self, client: &Client, keys: &mut Keys) {
        let (bytes, init) = keys.init();
        client.send(&bytes);
        let now = Instant::now();
        self.sent
            .retain(|s| now.duration_since(s.at) < ATTEMPT_WINDOW);
        self.sent.push(Sent {
            at: now,
            bytes,
            init,
        });
        self.next_due = now + gap_after(self.tries);
        self.tries += 1;
    }

    /// INITs sent so far.
    pub fn tries(&self) -> u32 {
        self.tries
    }

    /// Retransmits until a HANDSHAKE_RESP from the server answers one of
    /// the INITs, or [`DEADLINE`] passes from now. A COOKIE_REPLY to one of them is
    /// stored and answered at once with a new INIT carrying `mac2`. Other
    /// datagrams from the server (frames of an older session) go to
    /// `stash`.
    pub fn finish(
        mut self,
        client: &Client,
        keys: &mut Keys,
        stash: &mut Vec<Vec<u8>>,
    ) -> Result<Answer, Timeout> {
        let end = Instant::now() + DEADLINE;
        loop {
            if Instant::now() > end {
                return Err(Timeout(format!(
                    "an answer to {} REGISTER INITs",
                    self.tries
                )));
            }
            // At least a moment, so an answer already queued is read before
            // a retransmission that is due.
            let wait = self
                .next_due
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            let got = recv_matching(&client.socket, wait, |bytes, from| {
                (from == client.server).then(|| bytes.to_vec())
            });
            let Ok(bytes) = got else {
                self.send_init(client, keys);
                continue;
            };
            match Frame::parse(&bytes) {
                Ok(Frame::Resp(resp)) => {
                    let Some(at) = self
                        .sent
                        .iter()
                        .position(|s| s.init.sender == resp.receiver)
                    else {
                        continue;
                    };
                    let Sent { bytes, init, .. } = self.sent.swap_remove(at);
                    let local = init.sender;
                    if let Ok((session_keys, payload)) = init.finish(&keys.identity, &resp) {
                        let session = matches!(payload, RespPayload::Registered { .. })
                            .then(|| Session::new(session_keys, local, resp.sender));
                        return Ok(Answer {
                            payload,
                            session,
                            tries: self.tries,
                            init: bytes,
                        });
                    }
                }
                Ok(Frame::Cookie(reply)) => {
                    let init = self.sent.iter().find(|s| s.init.sender == reply.receiver);
                    if init.is_some_and(|s| keys.take_cookie(&reply, &s.init)) {
                        self.send_init(client, keys);
                    }
                }
                _ => stash.push(bytes),
            }
        }
    }
}

/// Runs one handshake attempt to its answer; fails the test after
/// [`DEADLINE`].
pub fn handshake(client: &Client, keys: &mut Keys, stash: &mut Vec<Vec<u8>>) -> Answer {
    Attempt::start(client, keys)
        .finish(client, keys, stash)
        .unwrap_or_else(|t| panic!("REGISTER from {}: {t}", client.addr()))
}
