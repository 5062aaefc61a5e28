//! Encoding and decoding of every message, and the limits.

use std::net::SocketAddr;

use serde_json::value::RawValue;

use super::*;
use crate::ids::{MsgId, PeerId, Seq, Token};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn encodes_version_first_and_upper_case_type() {
    let p = Packet::Register {
        seq: Seq(7),
        token: Token::parse(TOKEN).unwrap(),
    };
    let text = String::from_utf8(encode(&p).unwrap()).unwrap();
    assert_eq!(
        text,
        format!(r#"{{"v":1,"type":"REGISTER","seq":7,"token":"{TOKEN}"}}"#)
    );
    let ack = Packet::PunchAck {
        from: PeerId::new(1).unwrap(),
        to: PeerId::new(2).unwrap(),
        nonce: 9,
    };
    let text = String::from_utf8(encode(&ack).unwrap()).unwrap();
    assert_eq!(
        text,
        r#"{"v":1,"type":"PUNCH_ACK","from":1,"to":2,"nonce":9}"#
    );
}

#[test]
fn round_trips_every_kind() {
    let id = PeerId::new(3).unwrap();
    let t = Token::parse(TOKEN).unwrap();
    let a: SocketAddr = "[::ffff:10.0.0.1]:9".parse().unwrap();
    let data =
        RawValue::from_string(r#"{"v":1,"type":"MESSAGE_ACK","from":3,"to":3,"msg":1}"#.into())
            .unwrap();
    let all = vec![
        Packet::Register {
            seq: Seq(1),
            token: t,
        },
        Packet::RegisterAck {
            seq: Seq(1),
            id,
            addr: a,
            keepalive: 25,
        },
        Packet::List {
            seq: Seq(2),
            id,
            token: t,
            after: Some(4),
        },
        Packet::ListAck {
            seq: Seq(2),
            peers: vec![PeerEntry { id, addr: a }],
            more: true,
        },
        Packet::Connect {
            seq: Seq(3),
            id,
            token: t,
            target: id,
        },
        Packet::ConnectAck {
            seq: Seq(3),
            target: id,
            addr: a,
        },
        Packet::Unregister {
            seq: Seq(4),
            id,
            token: t,
        },
        Packet::UnregisterAck { seq: Seq(4) },
        Packet::Relay {
            seq: Seq(5),
            id,
            token: t,
            target: id,
            data: data.clone(),
        },
        Packet::RelayAck { seq: Seq(5) },
        Packet::Error {
            seq: Seq(6),
            code: ErrorCode::PeerOffline,
            message: "x".into(),
        },
        Packet::Intro { from: id, addr: a },
        Packet::Relayed { from: id, data },
        Packet::Punch {
            from: id,
            to: id,
            nonce: u64::MAX,
        },
        Packet::PunchAck {
            from: id,
            to: id,
            nonce: 0,
        },
        Packet::Message {
            from: id,
            to: id,
            msg: MsgId(u64::MAX),
            text: "h\u{e9}\"".into(),
            ts: 5,
        },
        Packet::MessageAck {
            from: id,
            to: id,
            msg: MsgId(8),
        },
    ];
    for p in all {
        let bytes = encode(&p).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!(
            encode(&back).unwrap(),
            bytes,
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        assert!(
            !String::from_utf8_lossy(&bytes).contains("ffff"),
            "mapped address written as v4"
        );
    }
}
#[test]
fn refuses_to_encode_oversized() {
    let id = PeerId::new(1).unwrap();
    let long = Packet::Message {
        from: id,
        to: id,
        msg: MsgId(1),
        text: "a".repeat(MAX_TEXT + 1),
        ts: 0,
    };
    assert_eq!(
        encode(&long).unwrap_err(),
        EncodeError::TextTooLong { len: MAX_TEXT + 1 }
    );
    let quotes = Packet::Message {
        from: id,
        to: id,
        msg: MsgId(1),
        text: "\"".repeat(MAX_TEXT),
        ts: 0,
    };
    assert!(matches!(
        encode(&quotes).unwrap_err(),
        EncodeError::TooLarge { .. }
    ));
}
