//! A daemon's side of protocol v2 (docs/protocol.md), as much as the
//! generator needs: REGISTER handshakes (with `mac2` once a cookie is
//! held), the session with the server, sealing requests and opening
//! replies into owned [`Reply`] values the workloads judge. Everything here
//! is built from `peerd_shared::proto` alone, like a third-party client.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use peerd_shared::proto::cookie::open_reply;
use peerd_shared::proto::crypto::{mac, MAC_LEN};
use peerd_shared::proto::frame::{CookieReply, Resp};
use peerd_shared::proto::handshake::{mac1_key, mac2_for};
use peerd_shared::proto::{
    Body, ErrorCode, Frame, Identity, InitPayload, Initiator, PublicKey, RespPayload, SecretKey,
    Session, PEER_WINDOW_WORDS,
};
use peerd_shared::{PeerId, Seq};

use crate::error::BenchError;

/// The generator's session with the server. The receiving window is the
/// daemons' (2048 counters): replies to a window of requests and pushes
/// such as INTRO may arrive out of order.
pub type ServerSession = Session<PEER_WINDOW_WORDS>;

/// The server as the generator knows it: its key, and the key of `mac1`
/// of frames sent to it (computed once).
#[derive(Debug, Clone, Copy)]
pub struct ServerKey {
    pub key: PublicKey,
    mac1_key: [u8; 32],
}

impl ServerKey {
    pub fn new(key: PublicKey) -> Self {
        Self {
            key,
            mac1_key: mac1_key(&key),
        }
    }

    /// `mac1` of a HANDSHAKE_INIT's first bytes.
    pub fn mac1(&self, input: &[u8]) -> [u8; MAC_LEN] {
        mac(&self.mac1_key, input)
    }

    /// The cookie in a COOKIE_REPLY answering the INIT whose `mac1` was
    /// `init_mac1`; `None` when it does not decrypt.
    pub fn cookie(&self, reply: &CookieReply, init_mac1: &[u8; MAC_LEN]) -> Option<[u8; MAC_LEN]> {
        open_reply(&self.key, reply, init_mac1)
    }
}

/// A fresh identity (a new X25519 key pair).
pub fn new_identity() -> Result<Identity, BenchError> {
    let secret = SecretKey::generate().map_err(|e| BenchError::Setup(e.to_string()))?;
    Ok(Identity::new(secret))
}

/// Handshake timestamps: nanoseconds since the Unix epoch, strictly
/// increasing over the whole process (so for every key, as section 1.1 asks).
pub fn timestamp() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// A REGISTER HANDSHAKE_INIT from `identity` with our index `sender`;
/// `mac2` is made from `cookie` when there is one.
pub fn register_init(
    identity: &Identity,
    server: &ServerKey,
    sender: u32,
    cookie: Option<&[u8; MAC_LEN]>,
) -> Result<(Vec<u8>, Initiator), BenchError> {
    let payload = InitPayload::Register {
        timestamp: timestamp(),
    };
    Initiator::start(identity, &server.key, sender, &payload, cookie, None)
        .map_err(|e| BenchError::Setup(format!("cannot write a handshake: {e}")))
}

/// Rewrites the `sender` of a prepared INIT (and so its `mac1`, which the
/// [`Initiator`] keeps for cookies), and sets `mac2` from `cookie` (zeros
/// without one). Neither field is inside the Noise message, so the
/// handshake itself is unchanged.
pub fn readdress_init(
    bytes: &mut [u8],
    init: &mut Initiator,
    server: &ServerKey,
    sender: u32,
    cookie: Option<&[u8; MAC_LEN]>,
) {
    let m1 = bytes.len() - 2 * MAC_LEN;
    let m2 = bytes.len() - MAC_LEN;
    bytes[1..5].copy_from_slice(&sender.to_be_bytes());
    let mac1 = server.mac1(&bytes[..m1]);
    bytes[m1..m2].copy_from_slice(&mac1);
    let mac2 = cookie.map_or([0u8; MAC_LEN], |c| mac2_for(c, &bytes[..m2]));
    bytes[m2..].copy_from_slice(&mac2);
    init.sender = sender;
    init.mac1 = mac1;
}

/// A peer registered with the server.
#[derive(Debug)]
pub struct Registered {
    pub id: PeerId,
    pub key: PublicKey,
    pub session: ServerSession,
    /// The keepalive period the server announced, seconds.
    pub keepalive: u16,
    /// The source address the server saw.
    pub addr: SocketAddr,
}

/// What a HANDSHAKE_RESP said.
#[derive(Debug)]
pub enum Outcome {
    /// Boxed: a session with its replay window is some 400 bytes.
    Registered(Box<Registered>),
    /// ERROR instead of REGISTERED (no session).
    Refused(ErrorCode),
}

/// Reads the HANDSHAKE_RESP answering `init` (the caller matched
/// `resp.receiver`): checks `mac1`, decrypts, reads the payload.
pub fn finish(init: Initiator, identity: &Identity, resp: &Resp<'_>) -> Result<Outcome, String> {
    let local = init.sender;
    let (keys, payload) = init
        .finish(identity, resp)
        .map_err(|e| format!("handshake response: {e}"))?;
    match payload {
        RespPayload::Registered {
            id,
            keepalive,
            addr,
        } => Ok(Outcome::Registered(Box::new(Registered {
            id,
            key: identity.public,
            session: Session::new(keys, local, resp.sender),
            keepalive,
            addr,
        }))),
        RespPayload::Refused { code, .. } => Ok(Outcome::Refused(code)),
        RespPayload::HelloAck { .. } => Err("HELLO_ACK from the server".into()),
    }
}

/// Writes `body` sealed on `session` into `buf`; returns the length (0 if
/// it does not fit, which no request of the generator does).
pub fn seal_into(
    session: &mut ServerSession,
    body: &Body<'_>,
    plain: &mut Vec<u8>,
    frame: &mut Vec<u8>,
    buf: &mut [u8],
) -> usize {
    plain.clear();
    body.encode(plain);
    frame.clear();
    match session.seal(plain, frame) {
        Ok(()) if frame.len() <= buf.len() => {
            buf[..frame.len()].copy_from_slice(frame);
            frame.len()
        }
        _ => 0,
    }
}

/// A reply from the server, decrypted and decoded, owning its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    KeepaliveAck {
        keepalive: u16,
        addr: SocketAddr,
    },
    ListAck {
        more: bool,
        peers: Vec<(PeerId, SocketAddr)>,
    },
    ConnectAck {
        target: PeerId,
        key: PublicKey,
        addr: SocketAddr,
    },
    Error(ErrorCode),
    /// Any other reply kind (named for the report).
    Other(&'static str),
}

/// What a datagram on a session was.
#[derive(Debug)]
pub enum Opened {
    /// A reply to the request `seq`.
    Reply(Seq, Reply),
    /// INTRO (or RELAYED): sent unasked.
    Push,
    /// Not a frame of this session, or it does not authenticate.
    Garbage,
}

/// Opens a datagram received on `session`.
pub fn open(session: &mut ServerSession, datagram: &[u8], scratch: &mut Vec<u8>) -> Opened {
    let Ok(Frame::Transport(t)) = Frame::parse(datagram) else {
        return Opened::Garbage;
    };
    if t.receiver != session.local {
        return Opened::Garbage;
    }
    let Ok(plain) = session.open(&t, scratch) else {
        return Opened::Garbage;
    };
    match Body::decode(plain) {
        Ok(Body::Intro { .. } | Body::Relayed { .. }) => Opened::Push,
        Ok(Body::KeepaliveAck {
            seq,
            keepalive,
            addr,
        }) => Opened::Reply(seq, Reply::KeepaliveAck { keepalive, addr }),
        Ok(Body::ListAck { seq, more, peers }) => {
            Opened::Reply(seq, Reply::ListAck { more, peers })
        }
        Ok(Body::ConnectAck {
            seq,
            target,
            key,
            addr,
        }) => Opened::Reply(seq, Reply::ConnectAck { target, key, addr }),
        Ok(Body::Error { seq, code, .. }) => Opened::Reply(seq, Reply::Error(code)),
        Ok(b @ (Body::UnregisterAck { seq } | Body::RelayAck { seq })) => {
            Opened::Reply(seq, Reply::Other(b.name()))
        }
        _ => Opened::Garbage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerd_shared::proto::handshake::accept;

    #[test]
    fn timestamps_strictly_increase() {
        let a = timestamp();
        let b = timestamp();
        assert!(b > a);
    }

    #[test]
    fn a_readdressed_init_is_accepted_and_its_cookie_binding_follows() {
        let server = Identity::new(SecretKey::from_bytes([7; 32]));
        let sk = ServerKey::new(server.public);
        let me = new_identity().unwrap();
        let (mut bytes, mut init) = register_init(&me, &sk, 1, None).unwrap();
        readdress_init(&mut bytes, &mut init, &sk, 99, Some(&[5; 16]));
        let Ok(Frame::Init(parsed)) = Frame::parse(&bytes) else {
            panic!("an INIT")
        };
        assert_eq!(parsed.sender, 99);
        assert_eq!(parsed.mac1, init.mac1);
        assert_eq!(parsed.mac2, mac2_for(&[5; 16], parsed.mac2_input));
        let accepted = accept(&server, &parsed).expect("the server accepts it");
        assert_eq!(accepted.initiator, me.public);
        assert_eq!(accepted.initiator_index, 99);
    }
}
