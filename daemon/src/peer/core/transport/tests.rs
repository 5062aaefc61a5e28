//! The transport between two daemons on the fake network (with the real
//! server core): HELLO handshakes and the confirmation rule, path proofs
//! (never from a received INIT), relayed sessions, and everything hostile:
//! replayed and forged frames, a HELLO from a key not pinned, a relayed
//! frame passed on by another peer, a changed key, a flood of HELLOs.

use std::net::SocketAddr;

use peerd_shared::proto::frame::ty;
use peerd_shared::proto::{Identity, InitPayload, Initiator, PublicKey, SecretKey};
use peerd_shared::MsgId;

use super::{Datagram, Inbound, PeerPacket, Route, SealError};
use crate::peer::core::testnet::{addr, id, Net};

/// A and B registered, each knowing (pinning) the other's key: A asked
/// the server for B (CONNECT), B was introduced (INTRO).
fn pair() -> (Net, usize, usize) {
    let mut net = Net::new();
    let a = net.registered(1);
    let b = net.registered(2);
    let now = net.now();
    net.nodes[a].reg.connect(id(2), 1, now);
    net.settle();
    (net, a, b)
}

/// Seals `packet` from node `i` to peer `to` over `route` and carries it
/// (and what the transport queued on its own).
fn send(
    net: &mut Net,
    i: usize,
    to: u64,
    route: Route,
    packet: PeerPacket,
) -> Result<(), SealError> {
    let now = net.now();
    let r = net.nodes[i].reg.transmit(id(to), route, packet, now);
    net.settle();
    r
}

fn proofs(net: &Net, i: usize) -> Vec<(u64, SocketAddr)> {
    net.nodes[i]
        .inbound
        .iter()
        .filter_map(|x| match x {
            Inbound::PathProof { peer, src } => Some((peer.get(), *src)),
            _ => None,
        })
        .collect()
}

fn packets(net: &Net, i: usize) -> Vec<PeerPacket> {
    net.nodes[i]
        .inbound
        .iter()
        .filter_map(|x| match x {
            Inbound::Peer { packet, .. } => Some(packet.clone()),
            _ => None,
        })
        .collect()
}

/// A and B with a direct session (A's HELLO answered and confirmed).
fn session() -> (Net, usize, usize) {
    let (mut net, a, b) = pair();
    let b_addr = net.nodes[b].addr;
    send(&mut net, a, 2, Route::Direct(b_addr), PeerPacket::Hello).expect("hello");
    (net, a, b)
}

#[test]
fn a_hello_proves_the_path_and_the_responder_waits_for_the_confirmation() {
    let (mut net, a, b) = pair();
    let (a_addr, b_addr) = (net.nodes[a].addr, net.nodes[b].addr);
    // B receives the INIT only: it answers, records no path, cannot send.
    net.lose_to.insert(a_addr);
    send(&mut net, a, 2, Route::Direct(b_addr), PeerPacket::Hello).expect("hello");
    assert_eq!(proofs(&net, b), [], "a received INIT proves nothing");
    let r = send(
        &mut net,
        b,
        1,
        Route::Direct(a_addr),
        PeerPacket::Probe { nonce: 1 },
    );
    assert_eq!(
        r,
        Err(SealError::Handshaking(id(1))),
        "an unconfirmed session never sends"
    );
    net.lose_to.clear();
    // A new HELLO goes through: A's path is proven by the answer, and A's
    // PROBE confirms the session and proves B's path.
    let mark = net.wire.len();
    send(&mut net, a, 2, Route::Direct(b_addr), PeerPacket::Hello).expect("hello");
    assert_eq!(proofs(&net, a), [(2, b_addr)]);
    assert_eq!(proofs(&net, b), [(1, a_addr)]);
    assert!(matches!(packets(&net, b)[..], [PeerPacket::Probe { .. }]));
    assert!(net.nodes[b]
        .inbound
        .contains(&Inbound::SessionReady { peer: id(1) }));
    let kinds: Vec<u8> = net.since(mark).iter().map(|(_, _, b)| b[0]).collect();
    assert_eq!(
        kinds[..3],
        [ty::HANDSHAKE_INIT, ty::HANDSHAKE_RESP, ty::TRANSPORT]
    );
    let text = "ünïcode, \u{1b}[2J and \"quotes\"".repeat(20);
    let msg = PeerPacket::Message {
        msg: MsgId(1),
        text: text.clone(),
        ts: 5,
    };
    send(&mut net, a, 2, Route::Direct(b_addr), msg.clone()).expect("message");
    assert_eq!(packets(&net, b).last(), Some(&msg));
}

#[test]
fn replayed_and_forged_frames_change_nothing() {
    let (mut net, a, b) = session();
    let b_addr = net.nodes[b].addr;
    let mark = net.wire.len();
    let msg = PeerPacket::Message {
        msg: MsgId(7),
        text: "once".into(),
        ts: 1,
    };
    send(&mut net, a, 2, Route::Direct(b_addr), msg).expect("message");
    let frame = net.since(mark)[0].2.clone();
    let before = (net.nodes[b].inbound.len(), net.wire.len());
    let evil = addr("10.6.6.6:666");
    // The same frame again, from A's address and from an attacker's.
    net.carry(
        net.nodes[a].addr,
        Datagram {
            to: b_addr,
            bytes: frame.clone(),
        },
    );
    net.carry(
        evil,
        Datagram {
            to: b_addr,
            bytes: frame.clone(),
        },
    );
    // Forged: a bit flipped, a counter changed, an index guessed.
    for at in [20, 8, 2] {
        let mut forged = frame.clone();
        forged[at] ^= 0x40;
        net.carry(
            evil,
            Datagram {
                to: b_addr,
                bytes: forged,
            },
        );
    }
    net.settle();
    assert_eq!(net.nodes[b].inbound.len(), before.0, "nothing accepted");
    assert_eq!(net.wire.len(), before.1 + 5, "nothing answered");
    assert!(
        proofs(&net, b).iter().all(|(_, src)| *src != evil),
        "no path to the attacker"
    );
    // A replayed INIT: no answer.
    let init = net
        .wire
        .iter()
        .find(|(_, _, b)| b[0] == ty::HANDSHAKE_INIT)
        .map(|x| x.2.clone())
        .unwrap();
    let before = net.wire.len();
    net.carry(
        evil,
        Datagram {
            to: b_addr,
            bytes: init,
        },
    );
    net.settle();
    assert_eq!(
        net.wire.len(),
        before + 1,
        "a replayed HELLO is not answered"
    );
}

#[test]
fn a_hello_from_a_key_not_pinned_for_its_id_is_dropped() {
    let (mut net, a, b) = pair();
    let b_addr = net.nodes[b].addr;
    let b_key = net.nodes[b].reg.status().key;
    let mallory = Identity::new(SecretKey::from_bytes([66; 32]));
    let payload = InitPayload::Hello {
        timestamp: u64::MAX / 2,
        from: id(1),
    };
    let (bytes, _) = Initiator::start(&mallory, &b_key, 9, &payload, None, None).unwrap();
    let before = net.wire.len();
    net.carry(addr("10.6.6.6:666"), Datagram { to: b_addr, bytes });
    net.settle();
    assert_eq!(
        net.wire.len(),
        before + 1,
        "no answer to a key not pinned for id 1"
    );
    // A's real HELLO after it still works (the fake timestamp moved nothing).
    send(&mut net, a, 2, Route::Direct(b_addr), PeerPacket::Hello).expect("hello");
    assert_eq!(proofs(&net, a), [(2, b_addr)]);
}

#[test]
fn relayed_sessions_work_and_a_frame_passed_on_by_another_peer_is_dropped() {
    let (mut net, a, b) = pair();
    send(&mut net, a, 2, Route::Relayed, PeerPacket::Hello).expect("relayed hello");
    assert!(net.nodes[a]
        .inbound
        .contains(&Inbound::SessionReady { peer: id(2) }));
    assert_eq!(proofs(&net, a), [], "nothing relayed proves a path");
    let mark = net.wire.len();
    let msg = PeerPacket::Message {
        msg: MsgId(3),
        text: "x".repeat(1000),
        ts: 9,
    };
    send(&mut net, a, 2, Route::Relayed, msg.clone()).expect("a 1000-byte text, relayed");
    assert_eq!(packets(&net, b).last(), Some(&msg));
    let relay = net.since(mark)[0].2.clone();
    assert!(relay.len() <= 1200, "{}", relay.len());
    assert!(
        !relay.windows(10).any(|w| w == b"xxxxxxxxxx"),
        "the server sees no plaintext"
    );
    // C relays to B the frame A sealed for B: B drops it (from C, session of A).
    let c = net.registered(3);
    // A frame A sealed for B on their session (as it travels inside RELAY).
    let now = net.now();
    let b_addr = net.nodes[b].addr;
    let sealed = PeerPacket::Message {
        msg: MsgId(4),
        text: "for B".into(),
        ts: 9,
    };
    let inner = net.nodes[a]
        .reg
        .transport_mut()
        .seal_peer(id(2), Route::Direct(b_addr), sealed, now)
        .expect("A seals")
        .bytes;
    let before = packets(&net, b).len();
    let now = net.now();
    net.nodes[c].reg.connect(id(2), 1, now);
    net.settle();
    let t = net.nodes[c].reg.transport_mut();
    let datagram = t
        .wrap(id(2), Route::Relayed, inner, now.at)
        .expect("C relays");
    let c_addr = net.nodes[c].addr;
    net.carry(c_addr, datagram);
    net.settle();
    assert_eq!(packets(&net, b).len(), before, "not accepted from C");
}

#[test]
fn a_peer_whose_key_changed_is_neither_sent_to_nor_heard_until_trusted() {
    let (mut net, a, b) = session();
    let (a_addr, b_addr) = (net.nodes[a].addr, net.nodes[b].addr);
    let mark = net.wire.len();
    let msg = PeerPacket::Message {
        msg: MsgId(1),
        text: "hi".into(),
        ts: 1,
    };
    send(&mut net, b, 1, Route::Direct(a_addr), msg.clone()).expect("B to A");
    let frame = net.since(mark)[0].2.clone();
    let offered = PublicKey([5; 32]);
    net.nodes[a].reg.transport_mut().introduce(id(2), offered);
    let r = send(&mut net, a, 2, Route::Direct(b_addr), msg.clone());
    assert!(matches!(r, Err(SealError::KeyChanged(_))), "{r:?}");
    let before = packets(&net, a).len();
    net.carry(
        b_addr,
        Datagram {
            to: a_addr,
            bytes: frame,
        },
    );
    net.settle();
    assert_eq!(packets(&net, a).len(), before, "not heard either");
    assert_eq!(net.nodes[a].reg.trust(id(2)), Some(offered));
}

#[test]
fn hellos_beyond_the_rate_of_one_address_are_not_answered() {
    let (mut net, a, b) = pair();
    let b_addr = net.nodes[b].addr;
    let before = net.wire.len();
    for _ in 0..30 {
        let now = net.now();
        let bytes = net.nodes[a]
            .reg
            .transport_mut()
            .seal_peer(id(2), Route::Direct(b_addr), PeerPacket::Hello, now)
            .expect("hello")
            .bytes;
        let from = net.nodes[a].addr;
        net.lose_to.insert(from);
        net.carry(from, Datagram { to: b_addr, bytes });
        net.lose_to.clear();
    }
    net.settle();
    let answers = net.wire[before..]
        .iter()
        .filter(|(_, _, b)| b[0] == ty::HANDSHAKE_RESP)
        .count();
    assert_eq!(answers, 20, "20 a second from one address");
}
