//! Property tests of every decoder that reads input from outside: the
//! frames of protocol v2 (`Frame::parse`), the handshake payloads
//! (`InitPayload`, `RespPayload`), the Noise handshake (`accept`,
//! `Initiator::finish`), COOKIE_REPLY (`open_reply`), TRANSPORT frames
//! (`Session::open`) and their payloads (`Body::decode`), the STUN codec
//! (`stun::answer`, `stun::parse_binding_response`) and the control
//! protocol (`Request`). The server's answer to protocol v1 JSON is
//! covered where it lives, in the server's tests
//! (`daemon/src/server/tests/legacy.rs`).
//!
//! Inputs are arbitrary bytes, bytes that pass the cheap checks (a right
//! `mac1`, a frame on a real session's index), genuine frames with one bit
//! flipped, every valid payload, STUN messages with random attributes and
//! corruptions, and arbitrary JSON. Properties: no panic; each decoder
//! accepts exactly what docs/protocol.md says (first byte and length of a
//! frame, a payload's kind, the `seq` an error carries); nothing forged or
//! tampered with authenticates; what is encoded decodes to the same value,
//! at the size the specification gives.

use std::net::{IpAddr, SocketAddr};

use peerd_shared::control::Request;
use peerd_shared::proto::codec::{addr_len, canonical};
use peerd_shared::proto::cookie::{open_reply, CookieGuard};
use peerd_shared::proto::crypto::mac;
use peerd_shared::proto::frame::{
    key_reply, key_request, FrameError, COOKIE_REPLY_LEN, INIT_OVERHEAD, KEY_REPLY_LEN,
    KEY_REQUEST_LEN, RESP_OVERHEAD, TRANSPORT_OVERHEAD,
};
use peerd_shared::proto::handshake::{accept, mac1_key, HandshakeError, Initiator};
use peerd_shared::proto::payload::{kind, truncate_utf8, BodyError, MAX_ERROR_MESSAGE};
use peerd_shared::proto::session::OpenError;
use peerd_shared::proto::{
    Body, ErrorCode, Frame, Identity, InitPayload, PublicKey, RespPayload, SecretKey, Session,
    MAX_DATAGRAM, MAX_TEXT, PEER_WINDOW_WORDS,
};
use peerd_shared::stun::{self, Class, Message, ANSWER_BUF, MAX_UNKNOWN, SOFTWARE};
use peerd_shared::{MsgId, PeerId, Seq};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::Value;

type PeerSession = Session<PEER_WINDOW_WORDS>;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------- strategies

fn peer_id() -> impl Strategy<Value = PeerId> {
    prop_oneof![Just(1u64), Just((1u64 << 53) - 1), 1u64..(1u64 << 53)]
        .prop_map(|n| PeerId::new(n).expect("in range"))
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    (any::<IpAddr>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::new(ip, port))
}

fn seq() -> impl Strategy<Value = Seq> {
    any::<u32>().prop_map(Seq)
}

fn key() -> impl Strategy<Value = PublicKey> {
    any::<[u8; 32]>().prop_map(PublicKey)
}

fn code() -> impl Strategy<Value = ErrorCode> {
    any::<u8>().prop_map(ErrorCode::from_u8)
}

/// UTF-8 of at most `max` bytes, multi-byte characters and controls too.
fn utf8(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "[ -~]{0,300}",
        Just("é\"\\\u{1}\n\u{1F600}".to_owned()),
        Just("x".repeat(max)),
        Just("é".repeat(max / 2)),
    ]
    .prop_map(move |s| truncate_utf8(&s, max).to_owned())
}

/// `data` of RELAY (1 or more bytes) and RELAYED (any).
fn data(min: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), min..300)
}

/// A payload of section 5.2 or 6, owning its bytes ([`Body`] borrows).
#[derive(Debug, Clone)]
enum Owned {
    Keepalive(Seq),
    List(Seq, u64),
    Connect(Seq, PeerId),
    Unregister(Seq),
    Relay(Seq, PeerId, Vec<u8>),
    KeepaliveAck(Seq, u16, SocketAddr),
    ListAck(Seq, bool, Vec<(PeerId, SocketAddr)>),
    ConnectAck(Seq, PeerId, PublicKey, SocketAddr),
    UnregisterAck(Seq),
    RelayAck(Seq),
    Intro(PeerId, PublicKey, SocketAddr),
    Relayed(PeerId, Vec<u8>),
    Error(Seq, ErrorCode, String),
    Message(MsgId, u64, String),
    MessageAck(MsgId),
    Probe(u64),
    ProbeAck(u64),
}

impl Owned {
    fn body(&self) -> Body<'_> {
        match self {
            Owned::Keepalive(seq) => Body::Keepalive { seq: *seq },
            Owned::List(seq, after) => Body::List {
                seq: *seq,
                after: *after,
            },
            Owned::Connect(seq, target) => Body::Connect {
                seq: *seq,
                target: *target,
            },
            Owned::Unregister(seq) => Body::Unregister { seq: *seq },
            Owned::Relay(seq, target, data) => Body::Relay {
                seq: *seq,
                target: *target,
                data,
            },
            Owned::KeepaliveAck(seq, keepalive, addr) => Body::KeepaliveAck {
                seq: *seq,
                keepalive: *keepalive,
                addr: *addr,
            },
            Owned::ListAck(seq, more, peers) => Body::ListAck {
                seq: *seq,
                more: *more,
                peers: peers.clone(),
            },
            Owned::ConnectAck(seq, target, key, addr) => Body::ConnectAck {
                seq: *seq,
                target: *target,
                key: *key,
                addr: *addr,
            },
            Owned::UnregisterAck(seq) => Body::UnregisterAck { seq: *seq },
            Owned::RelayAck(seq) => Body::RelayAck { seq: *seq },
            Owned::Intro(from, key, addr) => Body::Intro {
                from: *from,
                key: *key,
                addr: *addr,
            },
            Owned::Relayed(from, data) => Body::Relayed { from: *from, data },
            Owned::Error(seq, code, message) => Body::Error {
                seq: *seq,
                code: *code,
                message,
            },
            Owned::Message(msg, ts, text) => Body::Message {
                msg: *msg,
                ts: *ts,
                text,
            },
            Owned::MessageAck(msg) => Body::MessageAck { msg: *msg },
            Owned::Probe(nonce) => Body::Probe { nonce: *nonce },
            Owned::ProbeAck(nonce) => Body::ProbeAck { nonce: *nonce },
        }
    }

    /// The payload's size as the specification gives it.
    fn spec_len(&self) -> usize {
        match self {
            Owned::Keepalive(_)
            | Owned::Unregister(_)
            | Owned::UnregisterAck(_)
            | Owned::RelayAck(_) => 5,
            Owned::List(..) | Owned::Connect(..) => 13,
            Owned::Relay(_, _, data) => 13 + data.len(),
            Owned::KeepaliveAck(_, _, addr) => 7 + addr_len(*addr),
            Owned::ListAck(_, _, peers) => {
                8 + peers.iter().map(|(_, a)| 8 + addr_len(*a)).sum::<usize>()
            }
            Owned::ConnectAck(_, _, _, addr) => 45 + addr_len(*addr),
            Owned::Intro(_, _, addr) => 41 + addr_len(*addr),
            Owned::Relayed(_, data) => 9 + data.len(),
            Owned::Error(_, _, message) => 7 + message.len(),
            Owned::Message(_, _, text) => 17 + text.len(),
            Owned::MessageAck(_) | Owned::Probe(_) | Owned::ProbeAck(_) => 9,
        }
    }

    /// Whether the payload's last field runs to the end (trailing bytes
    /// would be part of it).
    fn open_ended(&self) -> bool {
        matches!(
            self,
            Owned::Relay(..) | Owned::Relayed(..) | Owned::Message(..)
        )
    }
}

/// Every payload of sections 5.2 and 6, with valid fields.
fn owned() -> impl Strategy<Value = Owned> {
    let entries = vec((peer_id(), socket_addr()), 0..6);
    let msg = any::<u64>().prop_map(MsgId);
    prop_oneof![
        seq().prop_map(Owned::Keepalive),
        (seq(), any::<u64>()).prop_map(|(s, a)| Owned::List(s, a)),
        (seq(), peer_id()).prop_map(|(s, t)| Owned::Connect(s, t)),
        seq().prop_map(Owned::Unregister),
        (seq(), peer_id(), data(1)).prop_map(|(s, t, d)| Owned::Relay(s, t, d)),
        (seq(), any::<u16>(), socket_addr()).prop_map(|(s, k, a)| Owned::KeepaliveAck(s, k, a)),
        (seq(), any::<bool>(), entries).prop_map(|(s, m, p)| Owned::ListAck(s, m, p)),
        (seq(), peer_id(), key(), socket_addr())
            .prop_map(|(s, t, k, a)| Owned::ConnectAck(s, t, k, a)),
        seq().prop_map(Owned::UnregisterAck),
        seq().prop_map(Owned::RelayAck),
        (peer_id(), key(), socket_addr()).prop_map(|(f, k, a)| Owned::Intro(f, k, a)),
        (peer_id(), data(0)).prop_map(|(f, d)| Owned::Relayed(f, d)),
        (seq(), code(), utf8(MAX_ERROR_MESSAGE)).prop_map(|(s, c, m)| Owned::Error(s, c, m)),
        (msg.clone(), any::<u64>(), utf8(MAX_TEXT)).prop_map(|(m, t, x)| Owned::Message(m, t, x)),
        msg.prop_map(Owned::MessageAck),
        any::<u64>().prop_map(Owned::Probe),
        any::<u64>().prop_map(Owned::ProbeAck),
    ]
}

fn init_payload() -> impl Strategy<Value = InitPayload> {
    prop_oneof![
        any::<u64>().prop_map(|timestamp| InitPayload::Register { timestamp }),
        (any::<u64>(), peer_id())
            .prop_map(|(timestamp, from)| InitPayload::Hello { timestamp, from }),
    ]
}

fn resp_payload() -> impl Strategy<Value = RespPayload> {
    prop_oneof![
        (peer_id(), any::<u16>(), socket_addr()).prop_map(|(id, keepalive, addr)| {
            RespPayload::Registered {
                id,
                keepalive,
                addr: canonical(addr),
            }
        }),
        (code(), utf8(62)).prop_map(|(code, message)| RespPayload::Refused { code, message }),
        peer_id().prop_map(|from| RespPayload::HelloAck { from }),
    ]
}

fn secret() -> impl Strategy<Value = SecretKey> {
    any::<[u8; 32]>().prop_map(SecretKey::from_bytes)
}

/// Any JSON value, nested a few levels, with the control protocol's words.
fn json() -> impl Strategy<Value = Value> {
    let words = prop::sample::select(vec![
        "cmd", "req", "to", "text", "from", "limit", "ttl_secs", "wait", "send", "inbox", "id",
        "status", "list", "follow", "stop", "peers", "ping", "outbox", "seq", "v",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        words.clone().prop_map(Value::from),
        ".{0,24}".prop_map(Value::String),
    ];
    let key = prop_oneof![words.prop_map(str::to_owned), "[a-z_]{0,8}"];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A STUN message with random type, cookie, attributes and corruption.
fn stun_message() -> impl Strategy<Value = Vec<u8>> {
    let msg_type = prop_oneof![
        Just(0x0001u16),
        Just(0x0101),
        Just(0x0111),
        Just(0x0011),
        Just(0x0002),
        Just(0x0003),
        any::<u16>().prop_map(|t| t & 0x3FFF),
    ];
    let kind = prop_oneof![
        prop::sample::select(vec![
            0x0001u16, 0x0002, 0x0003, 0x0006, 0x0008, 0x0009, 0x000A, 0x000B, 0x0020, 0x0024,
            0x001C, 0x8022, 0x8028, 0x8029,
        ]),
        any::<u16>(),
    ];
    let attrs = vec((kind, vec(any::<u8>(), 0..24)), 0..6);
    let corruption = prop_oneof![
        4 => Just(None),
        1 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(Some),
    ];
    let cut = prop_oneof![4 => Just(None), 1 => any::<prop::sample::Index>().prop_map(Some)];
    (
        msg_type,
        any::<bool>(),
        any::<[u8; 12]>(),
        attrs,
        any::<bool>(),
        corruption,
        cut,
    )
        .prop_map(
            |(msg_type, cookie, txid, attrs, fingerprint, corruption, cut)| {
                let mut m = msg_type.to_be_bytes().to_vec();
                m.extend_from_slice(&[0, 0]);
                if cookie {
                    m.extend_from_slice(&stun::MAGIC_COOKIE.to_be_bytes());
                } else {
                    m.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]);
                }
                m.extend_from_slice(&txid);
                for (kind, value) in attrs {
                    m.extend_from_slice(&kind.to_be_bytes());
                    m.extend_from_slice(&u16::try_from(value.len()).unwrap_or(0).to_be_bytes());
                    m.extend_from_slice(&value);
                    m.resize(m.len().next_multiple_of(4), 0);
                }
                let length = |m: &mut Vec<u8>, extra: usize| {
                    let l = u16::try_from(m.len() + extra - 20).unwrap_or(0);
                    m[2..4].copy_from_slice(&l.to_be_bytes());
                };
                if fingerprint {
                    length(&mut m, 8);
                    let crc = crc32fast::hash(&m) ^ stun::FINGERPRINT_XOR;
                    m.extend_from_slice(&[0x80, 0x28, 0, 4]);
                    m.extend_from_slice(&crc.to_be_bytes());
                } else {
                    length(&mut m, 0);
                }
                if let Some((at, byte)) = corruption {
                    let i = at.index(m.len());
                    m[i] ^= byte;
                }
                if let Some(at) = cut {
                    m.truncate(at.index(m.len() + 1));
                }
                m
            },
        )
}

// ------------------------------------------------------------------ checks

/// `Frame::parse` accepts exactly what section 2 and the frame tables say.
fn check_frame(d: &[u8]) -> Result<(), TestCaseError> {
    let got = Frame::parse(d);
    let Some(&first) = d.first() else {
        prop_assert_eq!(got.err(), Some(FrameError::Empty));
        return Ok(());
    };
    let len = d.len();
    match (first, got) {
        (0x00 | 0x01, Ok(Frame::Stun)) | (b'{', Ok(Frame::Legacy)) => {}
        (_, Err(FrameError::TooLarge)) => prop_assert!(len > MAX_DATAGRAM),
        (0xA1, Ok(Frame::Init(i))) => {
            prop_assert!(len > INIT_OVERHEAD && len <= MAX_DATAGRAM);
            prop_assert_eq!(i.sender, u32::from_be_bytes([d[1], d[2], d[3], d[4]]));
            prop_assert_eq!(i.noise, &d[5..len - 32]);
            prop_assert_eq!(i.mac1_input, &d[..len - 32]);
            prop_assert_eq!(&i.mac1[..], &d[len - 32..len - 16]);
            prop_assert_eq!(i.mac2_input, &d[..len - 16]);
            prop_assert_eq!(&i.mac2[..], &d[len - 16..]);
        }
        (0xA2, Ok(Frame::Resp(r))) => {
            prop_assert!(len > RESP_OVERHEAD && len <= MAX_DATAGRAM);
            prop_assert_eq!(r.sender, u32::from_be_bytes([d[1], d[2], d[3], d[4]]));
            prop_assert_eq!(r.receiver, u32::from_be_bytes([d[5], d[6], d[7], d[8]]));
            prop_assert_eq!(r.noise, &d[9..len - 16]);
            prop_assert_eq!(&r.mac1[..], &d[len - 16..]);
        }
        (0xA3, Ok(Frame::Cookie(c))) => {
            prop_assert_eq!(len, COOKIE_REPLY_LEN);
            prop_assert_eq!(c.receiver, u32::from_be_bytes([d[1], d[2], d[3], d[4]]));
            // Random bytes never open, whatever INIT they claim to answer.
            prop_assert!(open_reply(&PublicKey([7; 32]), &c, &[0; 16]).is_none());
        }
        (0xA4, Ok(Frame::Transport(t))) => {
            prop_assert!(len > TRANSPORT_OVERHEAD && len <= MAX_DATAGRAM);
            prop_assert_eq!(t.receiver, u32::from_be_bytes([d[1], d[2], d[3], d[4]]));
            prop_assert_eq!(t.sealed, &d[13..]);
        }
        (0xA5, Ok(Frame::KeyRequest)) => {
            prop_assert!((KEY_REQUEST_LEN..=MAX_DATAGRAM).contains(&len));
        }
        (0xA6, Ok(Frame::KeyReply(k))) => {
            prop_assert!(len == KEY_REPLY_LEN && d[1] == 2);
            prop_assert_eq!(&k.0[..], &d[2..]);
        }
        (0xA1..=0xA6, Err(FrameError::BadLength)) => {
            let fits = match first {
                0xA1 => len > INIT_OVERHEAD,
                0xA2 => len > RESP_OVERHEAD,
                0xA3 => len == COOKIE_REPLY_LEN,
                0xA4 => len > TRANSPORT_OVERHEAD,
                0xA5 => len >= KEY_REQUEST_LEN,
                _ => len == KEY_REPLY_LEN && d[1] == 2,
            };
            prop_assert!(!fits, "a frame of the right length was refused");
        }
        (b, Err(FrameError::UnknownType(t))) => {
            prop_assert_eq!(b, t);
            let framed = matches!(b, 0x00 | 0x01 | b'{' | 0xA1..=0xA6);
            prop_assert!(!framed, "a frame type refused as unknown");
        }
        (b, other) => {
            return Err(TestCaseError::fail(format!(
                "first byte {b:#04x}, {len} bytes: {other:?}"
            )))
        }
    }
    Ok(())
}

/// The kinds whose `seq` follows the kind byte (requests, replies, ERROR).
fn has_seq(k: u8) -> bool {
    matches!(k, kind::KEEPALIVE..=kind::RELAY | kind::KEEPALIVE_ACK..=kind::RELAY_ACK | kind::ERROR)
}

fn known_kind(k: u8) -> bool {
    has_seq(k)
        || matches!(
            k,
            kind::INTRO
                | kind::RELAYED
                | kind::MESSAGE
                | kind::MESSAGE_ACK
                | kind::PROBE
                | kind::PROBE_ACK
        )
}

/// `body` as it is once encoded: an ERROR's message cut to 160 bytes.
fn as_sent(body: Body<'_>) -> Body<'_> {
    match body {
        Body::Error { seq, code, message } => Body::Error {
            seq,
            code,
            message: truncate_utf8(message, MAX_ERROR_MESSAGE),
        },
        other => other,
    }
}

fn encode(body: &Body<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    body.encode(&mut out);
    out
}

/// `Body::decode` on any bytes: a payload that encodes to a value that
/// decodes the same, or the error the kind byte calls for, with the `seq`
/// of bytes 1 .. 5 when the kind has one.
fn check_body(p: &[u8]) -> Result<(), TestCaseError> {
    match Body::decode(p) {
        Ok(body) => {
            prop_assert!(known_kind(p[0]));
            let again = encode(&body);
            let decoded = Body::decode(&again)
                .map_err(|e| TestCaseError::fail(format!("{body:?} re-encoded: {e}")))?;
            prop_assert_eq!(&decoded, &as_sent(body.clone()));
            prop_assert_eq!(encode(&decoded), again, "encoding is stable");
        }
        Err(e) => {
            let k = p.first().copied();
            let seq = (k.is_some_and(has_seq) && p.len() >= 5)
                .then(|| Seq(u32::from_be_bytes([p[1], p[2], p[3], p[4]])));
            match k {
                Some(k) if !known_kind(k) => {
                    prop_assert_eq!(e, BodyError::UnknownKind { kind: k, seq: None })
                }
                _ => prop_assert_eq!(e, BodyError::Malformed { seq }),
            }
        }
    }
    Ok(())
}

/// The handshake payload decoders: no panic; what decodes re-encodes to a
/// value that decodes the same.
fn check_handshake_payloads(p: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(i) = InitPayload::decode(p) {
        let mut out = Vec::new();
        i.encode(&mut out);
        prop_assert_eq!(InitPayload::decode(&out), Ok(i));
        prop_assert_eq!(&out[..], &p[..out.len()], "the fields as read");
    }
    if let Ok(r) = RespPayload::decode(p) {
        let mut out = Vec::new();
        r.encode(&mut out);
        let expected = match r {
            RespPayload::Refused { code, message } => RespPayload::Refused {
                code,
                message: truncate_utf8(&message, MAX_ERROR_MESSAGE).to_owned(),
            },
            other => other,
        };
        prop_assert_eq!(RespPayload::decode(&out), Ok(expected));
    }
    Ok(())
}

fn check_control(line: &str) -> Result<(), TestCaseError> {
    if let Ok(request) = serde_json::from_str::<Request>(line) {
        let text = serde_json::to_string(&request).expect("requests serialize");
        let again: Request = serde_json::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("{text} does not parse back: {e}")))?;
        prop_assert_eq!(again, request);
    }
    Ok(())
}

/// The STUN decoders on `bytes` from `source`.
fn check_stun(bytes: &[u8], source: SocketAddr, out_len: usize) -> Result<(), TestCaseError> {
    let _ = stun::parse_binding_response(bytes);
    let mut out = vec![0u8; out_len];
    let Some(n) = stun::answer(bytes, source, &mut out) else {
        return Ok(());
    };
    prop_assert!(n <= out_len);
    prop_assert!(n <= max_answer(), "answer of {n} bytes");
    prop_assert!(n <= MAX_DATAGRAM);
    let request = Message::parse(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(
        request.class(),
        Class::Request,
        "only requests are answered"
    );
    let reply = Message::parse(&out[..n]).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(reply.txid, request.txid);
    prop_assert_eq!(reply.method(), request.method());
    match reply.class() {
        Class::Success => {
            let r = stun::parse_binding_response(&out[..n])
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(r.mapped, canonical(source));
            prop_assert_eq!(r.xor, request.is_rfc5389());
        }
        Class::Error => {}
        other => return Err(TestCaseError::fail(format!("answered with {other:?}"))),
    }
    Ok(())
}

/// The largest answer: a 420 listing [`MAX_UNKNOWN`] types.
fn max_answer() -> usize {
    20 + (4 + 24) + (4 + 2 * MAX_UNKNOWN + 2) + (4 + SOFTWARE.len().next_multiple_of(4)) + 8
}

/// Every decoder on the same bytes.
fn check_all(bytes: &[u8], source: SocketAddr) -> Result<(), TestCaseError> {
    check_frame(bytes)?;
    check_body(bytes)?;
    check_handshake_payloads(bytes)?;
    check_stun(bytes, source, ANSWER_BUF)?;
    if let Ok(line) = std::str::from_utf8(bytes) {
        check_control(line)?;
    }
    Ok(())
}

/// A completed handshake between two fixed identities: the initiator's
/// and the responder's sessions.
fn sessions(i: &Identity, r: &Identity) -> (PeerSession, PeerSession) {
    let payload = InitPayload::Hello {
        timestamp: 1,
        from: PeerId::new(1).expect("id"),
    };
    let (init, initiator) =
        Initiator::start(i, &r.public, 11, &payload, None, None).expect("an INIT");
    let Ok(Frame::Init(frame)) = Frame::parse(&init) else {
        panic!("not an INIT")
    };
    let accepted = accept(r, &frame).expect("accepted");
    let answer = RespPayload::HelloAck {
        from: PeerId::new(2).expect("id"),
    };
    let (resp, r_keys) = accepted.respond(22, &answer).expect("a RESP");
    let Ok(Frame::Resp(frame)) = Frame::parse(&resp) else {
        panic!("not a RESP")
    };
    let (i_keys, _) = initiator.finish(i, &frame).expect("finished");
    (Session::new(i_keys, 11, 22), Session::new(r_keys, 22, 11))
}

/// `m` sealed by `from` opens at `to`, once.
fn carry(from: &mut PeerSession, to: &mut PeerSession, m: &[u8]) -> Result<(), TestCaseError> {
    let mut frame = Vec::new();
    from.seal(m, &mut frame)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(frame.len(), TRANSPORT_OVERHEAD + m.len());
    let Ok(Frame::Transport(t)) = Frame::parse(&frame) else {
        return Err(TestCaseError::fail("not a TRANSPORT frame"));
    };
    prop_assert_eq!(t.receiver, to.local);
    let mut buf = Vec::new();
    prop_assert_eq!(to.open(&t, &mut buf).map(<[u8]>::to_vec), Ok(m.to_vec()));
    prop_assert_eq!(
        to.open(&t, &mut buf).err(),
        Some(OpenError::Replay),
        "a replay"
    );
    Ok(())
}

// ------------------------------------------------------------------ properties

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn arbitrary_bytes(bytes in vec(any::<u8>(), 0..1400), source in socket_addr()) {
        check_all(&bytes, source)?;
    }

    #[test]
    fn arbitrary_bytes_after_each_first_byte(
        first in prop::sample::select(vec![0x00u8, 0x01, b'{', 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0x10, 0x14, 0x91, 0x9F, 0x20, 0x81]),
        rest in vec(any::<u8>(), 0..1300),
        source in socket_addr(),
    ) {
        let mut bytes = vec![first];
        bytes.extend_from_slice(&rest);
        check_all(&bytes, source)?;
        // Every length around the frame sizes of the specification.
        for len in [0, 1, 5, 9, 13, 29, 30, 33, 34, 35, 60, 61, 62, 63, 64, 73, 74, 133, 134, 142, 150, 1200, 1201] {
            if len <= bytes.len() {
                check_all(&bytes[..len], source)?;
            }
        }
    }

    #[test]
    fn arbitrary_json(value in json()) {
        let text = serde_json::to_string(&value).expect("a value serializes");
        check_frame(text.as_bytes())?;
        check_control(&text)?;
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn payloads_round_trip_at_their_specified_size(o in owned(), trailing in vec(any::<u8>(), 0..8)) {
        let body = o.body();
        let mut bytes = encode(&body);
        prop_assert_eq!(bytes.len(), o.spec_len());
        let canonical_body = match body.clone() {
            Body::KeepaliveAck { seq, keepalive, addr } => Body::KeepaliveAck { seq, keepalive, addr: canonical(addr) },
            Body::ConnectAck { seq, target, key, addr } => Body::ConnectAck { seq, target, key, addr: canonical(addr) },
            Body::Intro { from, key, addr } => Body::Intro { from, key, addr: canonical(addr) },
            Body::ListAck { seq, more, peers } => Body::ListAck {
                seq,
                more,
                peers: peers.into_iter().map(|(id, a)| (id, canonical(a))).collect(),
            },
            other => other,
        };
        prop_assert_eq!(Body::decode(&bytes), Ok(canonical_body.clone()));
        check_body(&bytes)?;
        if !o.open_ended() {
            // Bytes after the last field are ignored.
            bytes.extend_from_slice(&trailing);
            prop_assert_eq!(Body::decode(&bytes), Ok(canonical_body));
        }
    }

    #[test]
    fn payloads_cut_short_are_malformed_with_their_seq(o in owned(), cut in any::<prop::sample::Index>()) {
        let bytes = encode(&o.body());
        let min = match o {
            // `data` of RELAY needs a byte; RELAYED's and a text may be empty.
            Owned::Relay(..) => 14,
            Owned::Relayed(..) => 9,
            Owned::Message(..) => 17,
            _ => bytes.len(),
        };
        let len = cut.index(min);
        let short = &bytes[..len];
        match Body::decode(short) {
            Ok(b) => return Err(TestCaseError::fail(format!("{len} bytes decoded: {b:?}"))),
            Err(e) => {
                let seq = (has_seq(bytes[0]) && len >= 5).then(|| Seq(u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]])));
                prop_assert_eq!(e, BodyError::Malformed { seq });
            }
        }
    }

    #[test]
    fn handshake_payloads_round_trip(i in init_payload(), r in resp_payload()) {
        let mut out = Vec::new();
        i.encode(&mut out);
        prop_assert_eq!(out.len(), match i { InitPayload::Register { .. } => 9, InitPayload::Hello { .. } => 17 });
        prop_assert_eq!(InitPayload::decode(&out), Ok(i));
        let mut out = Vec::new();
        r.encode(&mut out);
        prop_assert_eq!(RespPayload::decode(&out), Ok(r));
    }

    #[test]
    fn key_frames_round_trip(k in key()) {
        let reply = key_reply(&k);
        prop_assert_eq!(reply.len(), KEY_REPLY_LEN);
        prop_assert!(matches!(Frame::parse(&reply), Ok(Frame::KeyReply(x)) if x == k));
        prop_assert!(matches!(Frame::parse(&key_request()), Ok(Frame::KeyRequest)));
    }
}

proptest! {
    // Each case does a few Diffie-Hellmans.
    #![proptest_config(config(128))]

    #[test]
    fn handshakes_and_sessions_round_trip(
        i_secret in secret(),
        r_secret in secret(),
        (i_index, r_index) in (any::<u32>(), any::<u32>()),
        payload in init_payload(),
        answer in resp_payload(),
        messages in vec(vec(any::<u8>(), 1..200), 1..4),
    ) {
        let (i, r) = (Identity::new(i_secret), Identity::new(r_secret));
        prop_assume!(i.public != r.public);
        let (init, initiator) = Initiator::start(&i, &r.public, i_index, &payload, None, None)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let p_len = match payload { InitPayload::Register { .. } => 9, InitPayload::Hello { .. } => 17 };
        prop_assert_eq!(init.len(), INIT_OVERHEAD + p_len);
        let Ok(Frame::Init(frame)) = Frame::parse(&init) else {
            return Err(TestCaseError::fail("not an INIT"));
        };
        prop_assert_eq!(frame.sender, i_index);
        let accepted = accept(&r, &frame).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(accepted.initiator, i.public);
        prop_assert_eq!(accepted.initiator_index, i_index);
        prop_assert_eq!(accepted.payload, payload);
        // Only the responder's key opens it.
        prop_assert_eq!(accept(&i, &frame).err(), Some(HandshakeError::Mac1));

        let (resp, r_keys) = accepted.respond(r_index, &answer).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let Ok(Frame::Resp(rframe)) = Frame::parse(&resp) else {
            return Err(TestCaseError::fail("not a RESP"));
        };
        prop_assert_eq!((rframe.sender, rframe.receiver), (r_index, i_index));
        let (i_keys, got) = initiator.finish(&i, &rframe).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(got, answer);
        prop_assert_eq!((i_keys.send, i_keys.recv), (r_keys.recv, r_keys.send));

        let mut a: PeerSession = Session::new(i_keys, i_index, r_index);
        let mut b: PeerSession = Session::new(r_keys, r_index, i_index);
        for m in &messages {
            carry(&mut a, &mut b, m)?;
            carry(&mut b, &mut a, m)?;
        }
    }

    #[test]
    fn forged_handshakes_with_a_good_mac1_do_not_authenticate(
        r_secret in secret(),
        init_body in vec(any::<u8>(), INIT_OVERHEAD - 32..400),
        resp_body in vec(any::<u8>(), RESP_OVERHEAD - 16..400),
    ) {
        let r = Identity::new(r_secret);
        // An INIT of random bytes that passes the mac1 check: Noise must
        // refuse it.
        let mut init = vec![0xA1];
        init.extend_from_slice(&init_body);
        let m1 = mac(&mac1_key(&r.public), &init);
        init.extend_from_slice(&m1);
        init.extend_from_slice(&[0; 16]);
        let Ok(Frame::Init(frame)) = Frame::parse(&init) else {
            return Err(TestCaseError::fail("not an INIT"));
        };
        prop_assert_eq!(accept(&r, &frame).err(), Some(HandshakeError::Noise));

        // A RESP of random bytes with a good mac1, to a real INIT.
        let i = Identity::new(SecretKey::from_bytes([3; 32]));
        let payload = InitPayload::Register { timestamp: 9 };
        let (_, initiator) = Initiator::start(&i, &r.public, 5, &payload, None, None)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut resp = vec![0xA2];
        resp.extend_from_slice(&resp_body);
        let m1 = mac(&mac1_key(&i.public), &resp);
        resp.extend_from_slice(&m1);
        let Ok(Frame::Resp(frame)) = Frame::parse(&resp) else {
            return Err(TestCaseError::fail("not a RESP"));
        };
        prop_assert_eq!(initiator.finish(&i, &frame).err(), Some(HandshakeError::Noise));
    }

    #[test]
    fn a_genuine_handshake_with_one_bit_flipped(
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
        fix_mac1 in any::<bool>(),
    ) {
        let i = Identity::new(SecretKey::from_bytes([1; 32]));
        let r = Identity::new(SecretKey::from_bytes([2; 32]));
        let payload = InitPayload::Register { timestamp: 7 };
        let (mut init, _) = Initiator::start(&i, &r.public, 0x0102_0304, &payload, None, None)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let len = init.len();
        let (m1, m2) = (len - 32, len - 16);
        let at = at.index(len);
        init[at] ^= 1 << bit;
        if fix_mac1 && at < m1 {
            let fixed = mac(&mac1_key(&r.public), &init[..m1]);
            init[m1..m2].copy_from_slice(&fixed);
        }
        let frame = match Frame::parse(&init) {
            Ok(Frame::Init(f)) => f,
            other => {
                prop_assert_eq!(at, 0, "only the type byte changes the frame: {:?}", other);
                return Ok(());
            }
        };
        let got = accept(&r, &frame);
        match at {
            // `sender` is not authenticated: the answer goes to that index,
            // which the initiator does not know.
            1..=4 if fix_mac1 => prop_assert!(got.is_ok_and(|a| a.initiator_index != 0x0102_0304)),
            _ if at < m1 && fix_mac1 => prop_assert_eq!(got.err(), Some(HandshakeError::Noise)),
            _ if at < m2 => prop_assert_eq!(got.err(), Some(HandshakeError::Mac1)),
            // mac2 is the caller's business (cookies under load).
            _ => prop_assert!(got.is_ok()),
        }
    }

    #[test]
    fn forged_and_tampered_transport_frames_do_not_open(
        sealed in vec(any::<u8>(), 17..400),
        counter in any::<u64>(),
        payload in vec(any::<u8>(), 1..300),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let (mut a, mut b) = sessions(
            &Identity::new(SecretKey::from_bytes([4; 32])),
            &Identity::new(SecretKey::from_bytes([5; 32])),
        );
        // Random ciphertext on b's index.
        let mut forged = vec![0xA4];
        forged.extend_from_slice(&b.local.to_be_bytes());
        forged.extend_from_slice(&counter.to_be_bytes());
        forged.extend_from_slice(&sealed);
        let Ok(Frame::Transport(t)) = Frame::parse(&forged) else {
            return Err(TestCaseError::fail("not a TRANSPORT frame"));
        };
        let mut buf = Vec::new();
        let want = if counter == u64::MAX { OpenError::Replay } else { OpenError::Decrypt };
        prop_assert_eq!(b.open(&t, &mut buf).err(), Some(want));

        // A genuine frame with a bit flipped past the receiver index.
        let mut frame = Vec::new();
        a.seal(&payload, &mut frame).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let at = 5 + at.index(frame.len() - 5);
        frame[at] ^= 1 << bit;
        let Ok(Frame::Transport(t)) = Frame::parse(&frame) else {
            return Err(TestCaseError::fail("not a TRANSPORT frame"));
        };
        prop_assert!(b.open(&t, &mut buf).is_err());
    }

    #[test]
    fn cookie_replies_round_trip_and_bind_the_source(
        server_secret in secret(),
        cookie_secret in any::<[u8; 32]>(),
        nonce in any::<[u8; 24]>(),
        src in socket_addr(),
        other in socket_addr(),
    ) {
        let server = Identity::new(server_secret);
        let guard = CookieGuard::new(&server.public, cookie_secret, std::time::Instant::now());
        let i = Identity::new(SecretKey::from_bytes([6; 32]));
        let payload = InitPayload::Register { timestamp: 1 };
        let (init, initiator) = Initiator::start(&i, &server.public, 1, &payload, None, None)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let Ok(Frame::Init(frame)) = Frame::parse(&init) else {
            return Err(TestCaseError::fail("not an INIT"));
        };
        prop_assert!(!guard.mac2_ok(src, &frame), "no cookie yet");
        let reply = guard.reply(src, &frame, nonce);
        prop_assert_eq!(reply.len(), COOKIE_REPLY_LEN);
        prop_assert!(reply.len() < init.len(), "no amplification");
        let Ok(Frame::Cookie(c)) = Frame::parse(&reply) else {
            return Err(TestCaseError::fail("not a COOKIE_REPLY"));
        };
        prop_assert_eq!(c.receiver, 1);
        let cookie = open_reply(&server.public, &c, &initiator.mac1)
            .ok_or_else(|| TestCaseError::fail("the cookie does not open"))?;
        prop_assert!(open_reply(&i.public, &c, &initiator.mac1).is_none(), "sealed for the server's key");
        prop_assert!(open_reply(&server.public, &c, &[0; 16]).is_none(), "bound to the INIT's mac1");

        let payload = InitPayload::Register { timestamp: 2 };
        let (init, _) = Initiator::start(&i, &server.public, 2, &payload, Some(&cookie), None)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let Ok(Frame::Init(frame)) = Frame::parse(&init) else {
            return Err(TestCaseError::fail("not an INIT"));
        };
        prop_assert!(guard.mac2_ok(src, &frame));
        prop_assert_eq!(guard.mac2_ok(other, &frame), canonical(other) == canonical(src));
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn stun_messages(bytes in stun_message(), source in socket_addr(), out_len in prop_oneof![Just(ANSWER_BUF), 0usize..200]) {
        check_stun(&bytes, source, out_len)?;
        check_frame(&bytes)?;
    }

    #[test]
    fn stun_requests_are_answered(txid in any::<[u8; 12]>(), classic in any::<[u8; 16]>(), source in socket_addr()) {
        let mut out = [0u8; ANSWER_BUF];
        let n = stun::answer(&stun::binding_request(txid), source, &mut out).unwrap_or(0);
        let r = stun::parse_binding_response(&out[..n]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!((r.txid, r.mapped, r.xor), (stun::TransactionId::Rfc5389(txid), canonical(source), true));
        if classic[..4] != stun::MAGIC_COOKIE.to_be_bytes() {
            let n = stun::answer(&stun::classic_binding_request(classic), source, &mut out).unwrap_or(0);
            let r = stun::parse_binding_response(&out[..n]).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!((r.txid, r.mapped, r.xor), (stun::TransactionId::Classic(classic), canonical(source), false));
        }
    }
}

#[test]
fn control_lines_of_real_commands() {
    // A few hand-written lines next to the random ones: these must parse.
    for line in [
        r#"{"cmd":"id"}"#,
        r#"{"req":7,"cmd":"send","to":2,"text":"hi"}"#,
        r#"{"cmd":"inbox","from":1,"limit":5}"#,
    ] {
        assert!(serde_json::from_str::<Request>(line).is_ok(), "{line}");
    }
}
