//! The transport without sockets: what it seals for each route, and what
//! it accepts, unwraps and drops when it opens datagrams.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use peerd_shared::wire::{self, ErrorCode, Packet, RETRY_WINDOW};
use peerd_shared::{MsgId, PeerId, Seq, Token};
use serde_json::value::RawValue;

use super::*;

const TOKEN: Token = Token([9; 16]);

fn id(n: u64) -> PeerId {
    PeerId::new(n).expect("valid id")
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn server() -> SocketAddr {
    addr("10.0.0.1:8080")
}

/// A registered transport for id 7 on an IPv4 socket.
fn transport() -> Transport {
    let mut t = Transport::new(TOKEN, server(), addr("0.0.0.0:0"), Some(id(7)), 100);
    t.set_registered(None, true);
    t
}

fn decode(d: &Datagram) -> Packet {
    wire::decode(&d.bytes).expect("decodes")
}

fn bytes(p: &Packet) -> Vec<u8> {
    wire::encode(p).expect("encodes")
}

#[test]
fn requests_and_relays_share_one_counter_of_fresh_seqs() {
    let mut t = transport();
    let now = Instant::now();
    let (s1, d1) = t.seal_request(ServerRequest::Register).expect("register");
    let relayed = t
        .seal_peer(id(2), Route::Relayed, PeerPacket::Punch { nonce: 1 }, now)
        .expect("relay");
    let (s3, d3) = t
        .seal_request(ServerRequest::Connect { target: id(2) })
        .expect("connect");
    assert_eq!((s1, s3), (Seq(100), Seq(102)));
    assert!(matches!(
        decode(&relayed),
        Packet::Relay { seq: Seq(101), .. }
    ));
    assert!(matches!(decode(&d1), Packet::Register { token, .. } if token == TOKEN));
    assert!(matches!(
        decode(&d3),
        Packet::Connect { id: i, target, .. } if i == id(7) && target == id(2)
    ));
    assert_eq!((d1.to, d3.to), (server(), server()));
    let mut anonymous = Transport::new(TOKEN, server(), addr("0.0.0.0:0"), None, 0);
    assert_eq!(
        anonymous.seal_request(ServerRequest::Unregister),
        Err(SealError::NoId)
    );
}

#[test]
fn peer_packets_are_addressed_direct_or_wrapped_in_relay() {
    let mut t = transport();
    let now = Instant::now();
    let message = PeerPacket::Message {
        msg: MsgId(5),
        text: "hi".into(),
        ts: 42,
    };
    let to_peer = Route::Direct(addr("198.51.100.2:2000"));
    let direct = t
        .seal_peer(id(2), to_peer, message.clone(), now)
        .expect("direct");
    assert_eq!(direct.to, addr("198.51.100.2:2000"));
    assert!(matches!(
        decode(&direct),
        Packet::Message { from, to, msg: MsgId(5), ts: 42, .. } if from == id(7) && to == id(2)
    ));
    let relayed = t
        .seal_peer(id(2), Route::Relayed, message.clone(), now)
        .expect("relayed");
    assert_eq!(relayed.to, server());
    let Packet::Relay {
        id: i,
        token,
        target,
        data,
        ..
    } = decode(&relayed)
    else {
        panic!("not a RELAY");
    };
    assert_eq!((i, token, target), (id(7), TOKEN, id(2)));
    assert!(matches!(
        wire::decode_data(&data).expect("inner"),
        Packet::Message { msg: MsgId(5), .. }
    ));
    // An IPv6 socket writes IPv4 destinations IPv4-mapped.
    let mut v6 = Transport::new(TOKEN, server(), addr("[::]:0"), Some(id(7)), 0);
    let d = v6
        .seal_peer(id(2), to_peer, message.clone(), now)
        .expect("direct");
    assert_eq!(d.to, addr("[::ffff:198.51.100.2]:2000"));
}

#[test]
fn a_message_too_long_for_relay_goes_only_direct() {
    let mut t = transport();
    let now = Instant::now();
    // 1000 bytes of text, 1090 once escaped: a MESSAGE of about 1150.
    let text = format!("{}{}", "\"".repeat(90), "a".repeat(wire::MAX_TEXT - 90));
    let long = PeerPacket::Message {
        msg: MsgId(1),
        text,
        ts: 1,
    };
    let direct = Route::Direct(addr("198.51.100.2:2000"));
    assert!(t.seal_peer(id(2), direct, long.clone(), now).is_ok());
    let e = t
        .seal_peer(id(2), Route::Relayed, long.clone(), now)
        .unwrap_err();
    assert!(matches!(e, SealError::TooLargeToRelay { len } if len > 1000));
    assert!(e.to_string().starts_with("too long to relay: the "), "{e}");
    t.set_registered(None, false);
    let punch = PeerPacket::Punch { nonce: 1 };
    assert_eq!(
        t.seal_peer(id(2), Route::Relayed, punch.clone(), now),
        Err(SealError::NotRegistered)
    );
}

#[test]
fn replies_intros_and_relayed_are_accepted_only_from_the_server() {
    let mut t = transport();
    let now = Instant::now();
    let stranger = addr("198.51.100.9:9");
    let ack = Packet::UnregisterAck { seq: Seq(3) };
    assert!(t.open(stranger, &bytes(&ack), now).is_none());
    assert!(matches!(
        t.open(server(), &bytes(&ack), now),
        Some(Inbound::Reply(_))
    ));
    let intro = Packet::Intro {
        from: id(2),
        addr: addr("198.51.100.2:2000"),
    };
    assert!(t.open(stranger, &bytes(&intro), now).is_none());
    assert!(matches!(
        t.open(server(), &bytes(&intro), now),
        Some(Inbound::Intro { peer, .. }) if peer == id(2)
    ));
    let inner = |from| {
        let p = Packet::MessageAck {
            from: id(from),
            to: id(7),
            msg: MsgId(1),
        };
        RawValue::from_string(String::from_utf8(bytes(&p)).expect("utf-8")).expect("json")
    };
    let relayed = |from, inner_from| Packet::Relayed {
        from: id(from),
        data: inner(inner_from),
    };
    let opened = t.open(server(), &bytes(&relayed(2, 2)), now);
    let Some(Inbound::Peer { origin, packet }) = opened else {
        panic!("a relayed ack: {opened:?}");
    };
    assert_eq!(
        (origin.peer, origin.route, origin.src),
        (id(2), Route::Relayed, server())
    );
    assert_eq!(packet, PeerPacket::MessageAck { msg: MsgId(1) });
    assert!(
        t.open(server(), &bytes(&relayed(2, 3)), now).is_none(),
        "from differs"
    );
    assert!(t.open(stranger, &bytes(&relayed(2, 2)), now).is_none());
    assert!(t.open(server(), b"not json", now).is_none());
}

#[test]
fn peer_packets_must_be_for_this_daemon() {
    let mut t = transport();
    let now = Instant::now();
    let src = addr("198.51.100.2:2000");
    let punch = |to| Packet::Punch {
        from: id(2),
        to: id(to),
        nonce: 5,
    };
    let opened = t.open(src, &bytes(&punch(7)), now);
    let Some(Inbound::Peer { origin, packet }) = opened else {
        panic!("a punch: {opened:?}");
    };
    assert_eq!(origin.route, Route::Direct(src));
    assert_eq!(packet, PeerPacket::Punch { nonce: 5 });
    assert!(t.open(src, &bytes(&punch(8)), now).is_none(), "for id 8");
    let mapped = addr("[::ffff:198.51.100.2]:2000");
    let opened = t.open(mapped, &bytes(&punch(7)), now);
    assert!(matches!(opened, Some(Inbound::Peer { origin, .. }) if origin.src == src));
    let register = Packet::Register {
        seq: Seq(1),
        token: TOKEN,
    };
    assert!(
        t.open(src, &bytes(&register), now).is_none(),
        "not a peer packet"
    );
}

#[test]
fn answers_to_relays_are_matched_by_seq_within_the_retry_window() {
    let mut t = transport();
    let t0 = Instant::now();
    let punch = PeerPacket::Punch { nonce: 1 };
    let seq_of = |d: &Datagram| decode(d).seq().expect("seq");
    let a = seq_of(
        &t.seal_peer(id(2), Route::Relayed, punch.clone(), t0)
            .expect("relay"),
    );
    let b = seq_of(
        &t.seal_peer(id(3), Route::Relayed, punch.clone(), t0)
            .expect("relay"),
    );
    assert!(t
        .open(server(), &bytes(&Packet::RelayAck { seq: a }), t0)
        .is_none());
    let error = |seq| Packet::Error {
        seq,
        code: ErrorCode::PeerOffline,
        message: "offline".into(),
    };
    assert!(
        matches!(
            t.open(server(), &bytes(&error(a)), t0),
            Some(Inbound::Reply(_))
        ),
        "acknowledged already: an answer to something else"
    );
    assert!(matches!(
        t.open(server(), &bytes(&error(b)), t0),
        Some(Inbound::RelayRefused { target, code: ErrorCode::PeerOffline, .. }) if target == id(3)
    ));
    let c = seq_of(
        &t.seal_peer(id(4), Route::Relayed, punch.clone(), t0)
            .expect("relay"),
    );
    assert_eq!(t.relays.len(), 1);
    let later = t0 + RETRY_WINDOW + Duration::from_millis(1);
    assert!(matches!(
        t.open(server(), &bytes(&error(c)), later),
        Some(Inbound::Reply(_))
    ));
    assert_eq!(t.relays.len(), 0, "forgotten after the window");
}
