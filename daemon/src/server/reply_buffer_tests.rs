//! The reply encoders: every reply decodes with `wire::decode` to the
//! expected packet, numbers and addresses are exact, sizes are bounded.

use super::*;
use peerd_shared::wire::{decode, Packet, PeerEntry};

fn id(n: u64) -> PeerId {
    PeerId::new(n).expect("valid id")
}

fn only(out: &ReplyBuffer) -> Packet {
    assert_eq!(out.len(), 1);
    let (_, bytes) = out.datagrams().next().expect("one datagram");
    decode(bytes).expect("server replies decode")
}

const TO: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    1,
));

#[test]
fn replies_decode_as_the_shared_types() {
    let v6: SocketAddr = "[::1]:9".parse().unwrap();
    let mapped: SocketAddr = "[::ffff:10.1.2.3]:7".parse().unwrap();
    let mut out = ReplyBuffer::new();
    out.register_ack(mapped, Seq(u32::MAX), id(3), &AddrText::NONE, 25);
    assert!(
        matches!(only(&out), Packet::RegisterAck { seq: Seq(u32::MAX), id: i, addr, keepalive: 25 }
        if i == id(3) && addr.to_string() == "10.1.2.3:7")
    );
    out.clear();
    out.connect_ack(TO, Seq(1), id(2), v6, &AddrText::new(v6));
    assert!(
        matches!(only(&out), Packet::ConnectAck { seq: Seq(1), target, addr } if target == id(2) && addr == v6)
    );
    out.clear();
    out.intro(TO, id(1), v6, &AddrText::NONE);
    assert!(matches!(only(&out), Packet::Intro { from, addr } if from == id(1) && addr == v6));
    out.clear();
    out.ack(TO, "UNREGISTER_ACK", Seq(4));
    assert!(matches!(only(&out), Packet::UnregisterAck { seq: Seq(4) }));
    out.clear();
    out.ack(TO, "RELAY_ACK", Seq(5));
    assert!(matches!(only(&out), Packet::RelayAck { seq: Seq(5) }));
    out.clear();
    assert!(out.relayed(TO, id(7), r#"{"a": [1, "x"]}"#));
    match only(&out) {
        Packet::Relayed { from, data } => {
            assert_eq!(from, id(7));
            assert_eq!(data.get(), r#"{"a": [1, "x"]}"#);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn numbers_and_addresses_are_written_exactly() {
    let mut out = ReplyBuffer::new();
    let edge: SocketAddr = "255.0.10.255:65535".parse().unwrap();
    out.register_ack(
        edge,
        Seq(0),
        id(9_007_199_254_740_991),
        &AddrText::new(edge),
        0,
    );
    let (_, bytes) = out.datagrams().next().unwrap();
    assert_eq!(
        std::str::from_utf8(bytes).unwrap(),
        r#"{"v":1,"type":"REGISTER_ACK","seq":0,"id":9007199254740991,"addr":"255.0.10.255:65535","keepalive":0}"#
    );
}

#[test]
fn relayed_refuses_oversize() {
    let mut out = ReplyBuffer::new();
    let data = format!("{{\"x\":\"{}\"}}", "a".repeat(MAX_DATAGRAM));
    assert!(!out.relayed(TO, id(1), &data));
    assert!(out.is_empty());
}

#[test]
fn list_ack_fills_one_datagram() {
    let mut out = ReplyBuffer::new();
    let addr: SocketAddr = "[2001:db8::1234:5678:9abc]:65535".parse().unwrap();
    let text = AddrText::new(addr);
    assert_eq!(text.get(), None, "too long to cache: formatted instead");
    let mut w = out.list_ack(TO, Seq(2));
    let mut n = 0u64;
    while w.push(id(1_000_000_000 + n), addr, &text) {
        n += 1;
    }
    assert!(n > 5);
    assert_eq!(w.finish(true), n as usize);
    let (_, bytes) = out.datagrams().next().unwrap();
    assert!(bytes.len() <= MAX_DATAGRAM);
    match only(&out) {
        Packet::ListAck { seq, peers, more } => {
            assert_eq!((seq, more, peers.len()), (Seq(2), true, n as usize));
            assert_eq!(
                peers[0],
                PeerEntry {
                    id: id(1_000_000_000),
                    addr
                }
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    out.clear();
    out.list_ack(TO, Seq(0)).finish(false);
    assert!(matches!(only(&out), Packet::ListAck { peers, more: false, .. } if peers.is_empty()));
}

#[test]
fn error_respects_the_size_bound() {
    let mut out = ReplyBuffer::new();
    out.error(
        TO,
        Seq(0),
        ErrorCode::UnsupportedVersion,
        &"\u{1}".repeat(160),
        1,
    );
    let (_, bytes) = out.datagrams().next().unwrap();
    assert!(bytes.len() <= 201, "{} bytes", bytes.len());
    assert!(matches!(
        only(&out),
        Packet::Error {
            code: ErrorCode::UnsupportedVersion,
            ..
        }
    ));
}
