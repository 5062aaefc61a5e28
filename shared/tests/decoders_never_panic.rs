//! Property tests of every decoder that reads input from outside: the wire
//! decoder (`wire::decode`), the STUN codec (`stun::answer`,
//! `stun::parse_binding_response`) and the control protocol (`Request`).
//!
//! Inputs are arbitrary bytes, arbitrary JSON values, objects built from the
//! protocol's real field names with values of random types, valid messages
//! with one field mutated, and STUN messages with random attributes and
//! corruptions. Properties: no panic; every outcome is an error value or a
//! valid message; what decodes re-encodes to bytes that decode and encode to
//! the same bytes; a `DecodeError` carries the `seq` the input carried; error
//! codes follow protocol.md 2's check order.

use std::net::{IpAddr, SocketAddr};

use peerd_shared::control::Request;
use peerd_shared::stun::{self, Class, Message, ANSWER_BUF, MAX_UNKNOWN, SOFTWARE};
use peerd_shared::wire::{self, EncodeError, ErrorCode, Kind, Packet, PeerEntry, MAX_DATAGRAM};
use peerd_shared::{MsgId, PeerId, Seq, Token};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Every field name of protocol.md sections 2 and 3.
const FIELDS: [&str; 20] = [
    "v",
    "type",
    "seq",
    "id",
    "token",
    "target",
    "after",
    "data",
    "addr",
    "keepalive",
    "peers",
    "more",
    "code",
    "message",
    "from",
    "to",
    "nonce",
    "msg",
    "text",
    "ts",
];

/// Every `type` of protocol.md sections 2 and 3.
const TYPES: [&str; 17] = [
    "REGISTER",
    "REGISTER_ACK",
    "LIST",
    "LIST_ACK",
    "CONNECT",
    "CONNECT_ACK",
    "UNREGISTER",
    "UNREGISTER_ACK",
    "RELAY",
    "RELAY_ACK",
    "ERROR",
    "INTRO",
    "RELAYED",
    "PUNCH",
    "PUNCH_ACK",
    "MESSAGE",
    "MESSAGE_ACK",
];

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------- strategies

/// Numbers at the edges of every range the protocol uses.
fn edge_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::from(0u64)),
        Just(Value::from(1u64)),
        Just(Value::from(2u64)),
        Just(Value::from(-1i64)),
        Just(Value::from(u64::from(u32::MAX))),
        Just(Value::from(1u64 << 32)),
        Just(Value::from((1u64 << 53) - 1)),
        Just(Value::from(1u64 << 53)),
        Just(Value::from(u64::MAX)),
        Just(Value::from(i64::MIN)),
        Just(Value::from(1.0f64)),
        Just(Value::from(0.5f64)),
        Just(Value::from(1e300f64)),
    ]
}

/// Strings that are almost, or exactly, what some field wants.
fn edge_string() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[0-9a-f]{32}",
        "[0-9a-fA-F]{30,34}",
        Just("127.0.0.1:8080".to_owned()),
        Just("[::1]:9".to_owned()),
        Just("[::ffff:10.0.0.1]:1".to_owned()),
        Just("300.1.1.1:80".to_owned()),
        "[A-Z_]{0,14}",
        prop::sample::select(TYPES.to_vec()).prop_map(str::to_owned),
        ".{0,24}",
    ]
    .prop_map(Value::String)
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        edge_number(),
        edge_string(),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(FIELDS.to_vec()).prop_map(str::to_owned),
        "[a-z_]{0,8}",
        ".{0,6}",
    ]
}

/// Any JSON value, nested a few levels.
fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object of real field names with random values; `v`, `type` and
/// `seq` are mostly plausible so that decoding gets past the first checks.
fn realistic_object() -> impl Strategy<Value = Map<String, Value>> {
    let v = prop_oneof![
        6 => Just(Some(Value::from(1u64))),
        1 => Just(Some(Value::from(2u64))),
        1 => Just(None),
        1 => leaf().prop_map(Some),
    ];
    let kind = prop_oneof![
        6 => prop::sample::select(TYPES.to_vec()).prop_map(|t| Some(Value::from(t))),
        1 => Just(None),
        1 => leaf().prop_map(Some),
    ];
    let seq = prop_oneof![
        4 => any::<u32>().prop_map(|s| Some(Value::from(s))),
        1 => Just(None),
        1 => leaf().prop_map(Some),
    ];
    let value = prop_oneof![4 => leaf(), 1 => json()];
    let fields = btree_map(prop::sample::select(FIELDS.to_vec()), value, 0..10);
    (v, kind, seq, fields).prop_map(|(v, kind, seq, fields)| {
        let mut m: Map<String, Value> = fields
            .into_iter()
            .map(|(k, val)| (k.to_owned(), val))
            .collect();
        for (name, value) in [("v", v), ("type", kind), ("seq", seq)] {
            match value {
                Some(value) => m.insert(name.to_owned(), value),
                None => m.remove(name),
            };
        }
        m
    })
}

fn peer_id() -> impl Strategy<Value = PeerId> {
    prop_oneof![Just(1u64), Just((1u64 << 53) - 1), 1u64..(1u64 << 53)]
        .prop_map(|n| PeerId::new(n).expect("in range"))
}

fn token() -> impl Strategy<Value = Token> {
    any::<[u8; 16]>().prop_map(Token)
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    (any::<IpAddr>(), any::<u16>())
        .prop_map(|(ip, port)| wire::canonical(SocketAddr::new(ip, port)))
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,40}", "[ -~]{0,300}", Just("é\"\\\u{1}\n".to_owned())]
}

/// A peer message as RELAY/RELAYED `data`.
fn data() -> impl Strategy<Value = Box<RawValue>> {
    (peer_id(), peer_id(), any::<u64>(), text(), any::<u64>()).prop_map(
        |(from, to, msg, text, ts)| {
            let p = Packet::Message {
                from,
                to,
                msg: MsgId(msg),
                text,
                ts,
            };
            let bytes = wire::encode(&p).expect("a short message encodes");
            let s = String::from_utf8(bytes).expect("json is utf-8");
            RawValue::from_string(s).expect("encoded json is valid")
        },
    )
}

/// Any valid message of protocol.md sections 2 and 3.
fn packet() -> impl Strategy<Value = Packet> {
    let seq = any::<u32>().prop_map(Seq);
    let after = prop_oneof![Just(None), (0u64..(1u64 << 53)).prop_map(Some)];
    let entries = vec(
        (peer_id(), socket_addr()).prop_map(|(id, addr)| PeerEntry { id, addr }),
        0..5,
    );
    let code = prop::sample::select(vec![
        ErrorCode::BadRequest,
        ErrorCode::UnknownType,
        ErrorCode::UnsupportedVersion,
        ErrorCode::TooLarge,
        ErrorCode::Unauthorized,
        ErrorCode::UnknownPeer,
        ErrorCode::PeerOffline,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
    ]);
    prop_oneof![
        (seq.clone(), token()).prop_map(|(seq, token)| Packet::Register { seq, token }),
        (seq.clone(), peer_id(), socket_addr(), 0u64..100_000).prop_map(
            |(seq, id, addr, keepalive)| Packet::RegisterAck {
                seq,
                id,
                addr,
                keepalive
            }
        ),
        (seq.clone(), peer_id(), token(), after).prop_map(|(seq, id, token, after)| Packet::List {
            seq,
            id,
            token,
            after
        }),
        (seq.clone(), entries, any::<bool>()).prop_map(|(seq, peers, more)| Packet::ListAck {
            seq,
            peers,
            more
        }),
        (seq.clone(), peer_id(), token(), peer_id()).prop_map(|(seq, id, token, target)| {
            Packet::Connect {
                seq,
                id,
                token,
                target,
            }
        }),
        (seq.clone(), peer_id(), socket_addr())
            .prop_map(|(seq, target, addr)| Packet::ConnectAck { seq, target, addr }),
        (seq.clone(), peer_id(), token()).prop_map(|(seq, id, token)| Packet::Unregister {
            seq,
            id,
            token
        }),
        seq.clone().prop_map(|seq| Packet::UnregisterAck { seq }),
        (seq.clone(), peer_id(), token(), peer_id(), data()).prop_map(
            |(seq, id, token, target, data)| Packet::Relay {
                seq,
                id,
                token,
                target,
                data
            }
        ),
        seq.clone().prop_map(|seq| Packet::RelayAck { seq }),
        (seq, code, ".{0,60}").prop_map(|(seq, code, message)| Packet::Error {
            seq,
            code,
            message
        }),
        (peer_id(), socket_addr()).prop_map(|(from, addr)| Packet::Intro { from, addr }),
        (peer_id(), data()).prop_map(|(from, data)| Packet::Relayed { from, data }),
        (peer_id(), peer_id(), any::<u64>()).prop_map(|(from, to, nonce)| Packet::Punch {
            from,
            to,
            nonce
        }),
        (peer_id(), peer_id(), any::<u64>()).prop_map(|(from, to, nonce)| Packet::PunchAck {
            from,
            to,
            nonce
        }),
        (peer_id(), peer_id(), any::<u64>(), text(), any::<u64>()).prop_map(
            |(from, to, msg, text, ts)| Packet::Message {
                from,
                to,
                msg: MsgId(msg),
                text,
                ts
            }
        ),
        (peer_id(), peer_id(), any::<u64>()).prop_map(|(from, to, msg)| Packet::MessageAck {
            from,
            to,
            msg: MsgId(msg)
        }),
    ]
}

/// One change to a valid message's JSON object.
#[derive(Debug, Clone)]
enum Mutation {
    Remove(prop::sample::Index),
    Replace(prop::sample::Index, Value),
    AddUnknown(String, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Mutation::Remove),
        (
            any::<prop::sample::Index>(),
            prop_oneof![3 => leaf(), 1 => json()]
        )
            .prop_map(|(i, v)| Mutation::Replace(i, v)),
        ("x_[a-z]{0,6}", json()).prop_map(|(k, v)| Mutation::AddUnknown(k, v)),
    ]
}

// ------------------------------------------------------------------ checks

/// The `seq` an input object carries, as protocol.md reads it.
fn input_seq(obj: &Map<String, Value>) -> Option<Seq> {
    let n = obj.get("seq")?.as_u64()?;
    u32::try_from(n).ok().map(Seq)
}

/// The error code protocol.md's check order demands before the fields of
/// the message are looked at; `None` when those first checks pass.
fn early_code(obj: &Map<String, Value>, len: usize) -> Option<ErrorCode> {
    if len > MAX_DATAGRAM {
        return Some(ErrorCode::TooLarge);
    }
    match obj.get("v") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        Some(Value::Number(n)) if n.as_u64().is_some() || n.as_i64().is_some() => {
            return Some(ErrorCode::UnsupportedVersion)
        }
        _ => return Some(ErrorCode::BadRequest),
    }
    let kind = match obj.get("type") {
        Some(Value::String(s)) => match Kind::parse(s) {
            Some(kind) => kind,
            None => return Some(ErrorCode::UnknownType),
        },
        _ => return Some(ErrorCode::BadRequest),
    };
    if kind.has_seq() && input_seq(obj).is_none() {
        return Some(ErrorCode::BadRequest);
    }
    None
}

/// Whatever `decode` does with `bytes`, it is a valid message or an error
/// value, and a decoded message survives re-encoding.
fn check_decode(bytes: &[u8]) -> Result<(), TestCaseError> {
    match wire::decode(bytes) {
        Ok(packet) => check_reencode(&packet, bytes.len())?,
        Err(e) => prop_assert!(!e.message.is_empty()),
    }
    Ok(())
}

/// `packet` (decoded from `len` bytes) encodes, and the encoding decodes
/// and encodes to the very same bytes.
fn check_reencode(packet: &Packet, len: usize) -> Result<(), TestCaseError> {
    let first = match wire::encode(packet) {
        Ok(bytes) => bytes,
        // Encoding adds the fields a sender may omit (`message` of ERROR);
        // only a datagram already near the limit may grow past it.
        Err(EncodeError::TooLarge { .. }) if len + 20 > MAX_DATAGRAM => return Ok(()),
        Err(e) => {
            return Err(TestCaseError::fail(format!(
                "decoded {packet:?} fails to encode: {e}"
            )))
        }
    };
    let again = wire::decode(&first).map_err(|e| TestCaseError::fail(format!("re-decode: {e}")))?;
    prop_assert_eq!(again.kind(), packet.kind());
    prop_assert_eq!(again.seq(), packet.seq());
    let second =
        wire::encode(&again).map_err(|e| TestCaseError::fail(format!("re-encode: {e}")))?;
    prop_assert_eq!(
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second)
    );
    Ok(())
}

/// Decodes a JSON object and checks the seq and check-order properties.
fn check_object(obj: &Map<String, Value>) -> Result<(), TestCaseError> {
    let bytes = serde_json::to_vec(obj).expect("a value serializes");
    check_decode(&bytes)?;
    let seq = input_seq(obj);
    match (wire::decode(&bytes), early_code(obj, bytes.len())) {
        (Ok(_), Some(code)) => {
            return Err(TestCaseError::fail(format!("decoded, but {code} was due")))
        }
        (Ok(_), None) => {}
        (Err(e), Some(code)) => {
            prop_assert_eq!(e.code, code, "{}", e.message);
            prop_assert_eq!(e.seq, seq, "an early error echoes the input's seq");
        }
        (Err(e), None) => {
            prop_assert_eq!(e.code, ErrorCode::BadRequest, "{}", e.message);
            if let Some(s) = e.seq {
                prop_assert_eq!(Some(s), seq, "an error's seq is the input's");
            }
        }
    }
    check_control(&String::from_utf8_lossy(&bytes))
}

/// The control decoder: an error, or a request that round-trips.
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
            prop_assert_eq!(r.mapped, wire::canonical(source));
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

// ------------------------------------------------------------------ properties

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_bytes(bytes in vec(any::<u8>(), 0..1400), source in socket_addr()) {
        check_decode(&bytes)?;
        check_stun(&bytes, source, ANSWER_BUF)?;
        if let Ok(line) = std::str::from_utf8(&bytes) {
            check_control(line)?;
        }
    }

    #[test]
    fn arbitrary_json(value in json()) {
        let bytes = serde_json::to_vec(&value).expect("a value serializes");
        check_decode(&bytes)?;
        match value {
            Value::Object(obj) => check_object(&obj)?,
            _ => {
                let e = wire::decode(&bytes).err();
                prop_assert_eq!(e.map(|e| (e.code, e.seq)), Some((ErrorCode::BadRequest, None)));
                check_control(&String::from_utf8_lossy(&bytes))?;
            }
        }
    }

    #[test]
    fn objects_of_real_fields(obj in realistic_object()) {
        check_object(&obj)?;
    }

    #[test]
    fn wrong_version_wins_over_everything(mut obj in realistic_object(), v in prop_oneof![2u64.., Just(0)]) {
        obj.insert("v".to_owned(), Value::from(v));
        let bytes = serde_json::to_vec(&obj).expect("a value serializes");
        let e = wire::decode(&bytes).err();
        let want = if bytes.len() > MAX_DATAGRAM { ErrorCode::TooLarge } else { ErrorCode::UnsupportedVersion };
        prop_assert_eq!(e.map(|e| (e.code, e.seq)), Some((want, input_seq(&obj))));
    }

    #[test]
    fn valid_messages_round_trip(packet in packet()) {
        let bytes = wire::encode(&packet).expect("valid messages encode");
        let decoded = wire::decode(&bytes).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        check_reencode(&decoded, bytes.len())?;
        prop_assert_eq!(wire::encode(&decoded).ok(), Some(bytes));
    }

    #[test]
    fn valid_messages_with_one_field_mutated(packet in packet(), m in mutation()) {
        let original = wire::encode(&packet).expect("valid messages encode");
        let Ok(Value::Object(mut obj)) = serde_json::from_slice::<Value>(&original) else {
            return Err(TestCaseError::fail("an encoded message is an object"));
        };
        let keys: Vec<String> = obj.keys().cloned().collect();
        match &m {
            Mutation::Remove(i) => {
                obj.remove(&keys[i.index(keys.len())]);
            }
            Mutation::Replace(i, value) => {
                obj.insert(keys[i.index(keys.len())].clone(), value.clone());
            }
            Mutation::AddUnknown(key, value) => {
                // Serializing through `Value` sorts keys (also inside `data`),
                // so compare with the same object without the unknown field.
                let reencode = |obj: &Map<String, Value>| {
                    let bytes = serde_json::to_vec(obj).expect("a value serializes");
                    let decoded = wire::decode(&bytes).map_err(|e| TestCaseError::fail(format!("valid object refused: {e}")))?;
                    Ok::<_, TestCaseError>((bytes.len(), wire::encode(&decoded).ok()))
                };
                let (_, baseline) = reencode(&obj)?;
                obj.insert(key.clone(), value.clone());
                if serde_json::to_vec(&obj).expect("a value serializes").len() <= MAX_DATAGRAM {
                    let (_, with_unknown) = reencode(&obj)?;
                    prop_assert_eq!(with_unknown, baseline, "unknown fields are ignored");
                }
            }
        }
        check_object(&obj)?;
    }

    #[test]
    fn stun_messages(bytes in stun_message(), source in socket_addr(), out_len in prop_oneof![Just(ANSWER_BUF), 0usize..200]) {
        check_stun(&bytes, source, out_len)?;
        check_decode(&bytes)?;
    }

    #[test]
    fn stun_requests_are_answered(txid in any::<[u8; 12]>(), classic in any::<[u8; 16]>(), source in socket_addr()) {
        let mut out = [0u8; ANSWER_BUF];
        let n = stun::answer(&stun::binding_request(txid), source, &mut out).unwrap_or(0);
        let r = stun::parse_binding_response(&out[..n]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!((r.txid, r.mapped, r.xor), (stun::TransactionId::Rfc5389(txid), wire::canonical(source), true));
        if classic[..4] != stun::MAGIC_COOKIE.to_be_bytes() {
            let n = stun::answer(&stun::classic_binding_request(classic), source, &mut out).unwrap_or(0);
            let r = stun::parse_binding_response(&out[..n]).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!((r.txid, r.mapped, r.xor), (stun::TransactionId::Classic(classic), wire::canonical(source), false));
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
