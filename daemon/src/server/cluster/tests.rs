//! Two registries in cluster mode on a fake clock, joined by a fake bus
//! that carries every message at once: ids claimed from the database (the
//! test answers the claims), presence across nodes, CONNECT and RELAY to a
//! peer of the other node (INTRO and RELAYED go out from the target's
//! node), split brain (the newest registration wins, the old node drops
//! the peer), and a silent node's peers dropped after 3 heartbeats.

use peerd_shared::proto::Body;
use peerd_shared::PeerId;

use super::node::{Cluster, To};
use crate::server::tests::{addr, id, seq, Client, Harness};

const BUS_KEY: [u8; 32] = [9; 32];

/// A node named `name`, its bus up.
fn node(name: &str, incarnation: u64) -> Harness {
    let mut h = Harness::new();
    h.reg
        .join_cluster(Cluster::new(name.into(), incarnation, BUS_KEY));
    h.out.clear();
    let now = h.at(0.0);
    h.reg.on_bus_state(true, now, &mut h.out);
    h
}

/// Carries every bus message between `nodes` until none is left, at
/// `secs`; returns the datagrams the nodes sent meanwhile (to peers).
fn pump(nodes: &mut [(&str, &mut Harness)], secs: f64) -> Vec<(std::net::SocketAddr, Vec<u8>)> {
    let mut sent = Vec::new();
    let mut queue = Vec::new();
    for (name, h) in nodes.iter_mut() {
        h.reg.flush_announcements(&mut h.out);
        queue.extend(h.out.bus.drain(..).map(|m| (name.to_string(), m)));
    }
    for _ in 0..1000 {
        let Some((from, m)) = queue.pop() else {
            return sent;
        };
        for (name, h) in nodes.iter_mut() {
            let to_it = match &m.to {
                To::All => *name != from,
                To::Node(n) => n == name,
            };
            if to_it {
                h.out.clear();
                let now = h.at(secs);
                h.reg.on_bus(&m.bytes, now, &mut h.out);
                sent.extend(h.drain());
                queue.extend(h.out.bus.drain(..).map(|m| (name.to_string(), m)));
            }
        }
    }
    panic!("the bus does not settle");
}

/// Registers `c` at `h` at `secs`; a new key's claim is answered with
/// `new_id`.
fn register(c: &mut Client, h: &mut Harness, secs: f64, new_id: u64) -> PeerId {
    let (bytes, init) = c.init(None);
    let mut answers = h.send(c.port, secs, &bytes);
    if answers.is_empty() {
        let claims = h.out.claims.clone();
        assert_eq!(claims, [c.identity.public], "a claim for the new key");
        h.out.clear();
        let now = h.at(secs);
        h.reg.on_claimed(
            &[(c.identity.public, Some((id(new_id), 0)))],
            now,
            &mut h.out,
        );
        answers = h.drain();
    }
    let [(to, resp)] = answers.as_slice() else {
        panic!("one answer expected: {answers:?}");
    };
    assert_eq!(*to, addr(c.port));
    c.finish(init, resp);
    let ack = c.ask(h, secs, &Body::Keepalive { seq: seq(1) });
    assert!(matches!(ack.reply(), Body::KeepaliveAck { .. }));
    c.id.expect("registered")
}

fn listed(c: &mut Client, h: &mut Harness, secs: f64) -> Vec<(PeerId, std::net::SocketAddr)> {
    match c
        .ask(
            h,
            secs,
            &Body::List {
                seq: seq(50),
                after: 0,
            },
        )
        .reply()
    {
        Body::ListAck { peers, .. } => peers.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_peer_of_one_node_is_listed_connected_and_relayed_to_from_the_other() {
    let mut a = node("a", 1);
    let mut b = node("b", 2);
    pump(&mut [("a", &mut a), ("b", &mut b)], 0.0);
    let mut p = Client::new(1, 1001, a.server);
    let mut q = Client::new(2, 2001, b.server);
    assert_eq!(register(&mut p, &mut a, 1.0, 10), id(10));
    assert_eq!(register(&mut q, &mut b, 1.0, 11), id(11));
    pump(&mut [("a", &mut a), ("b", &mut b)], 1.0);
    assert_eq!(listed(&mut q, &mut b, 1.1), [(id(10), addr(1001))]);
    // CONNECT at b for a's peer: the answer from b, INTRO from a.
    let ex = q.ask(
        &mut b,
        1.2,
        &Body::Connect {
            seq: seq(2),
            target: id(10),
        },
    );
    assert!(
        matches!(ex.reply(), Body::ConnectAck { target, addr: at, .. } if *target == id(10) && *at == addr(1001)),
        "{:?}",
        ex.reply()
    );
    assert!(ex.others.is_empty(), "nothing to a's peer from b itself");
    let sent = pump(&mut [("a", &mut a), ("b", &mut b)], 1.2);
    let [(to, bytes)] = sent.as_slice() else {
        panic!("one INTRO from a: {sent:?}");
    };
    assert_eq!(*to, addr(1001));
    assert!(
        matches!(p.open(bytes), Some(Body::Intro { from, .. }) if from == id(11)),
        "INTRO on p's session with a"
    );
    // RELAY the same way.
    let ex = q.ask(
        &mut b,
        1.3,
        &Body::Relay {
            seq: seq(3),
            target: id(10),
            data: b"hi",
        },
    );
    assert!(matches!(ex.reply(), Body::RelayAck { .. }));
    let sent = pump(&mut [("a", &mut a), ("b", &mut b)], 1.3);
    assert!(
        matches!(sent.as_slice(), [(to, bytes)] if *to == addr(1001)
            && matches!(p.open(bytes), Some(Body::Relayed { from, data: b"hi" }) if from == id(11))),
        "{sent:?}"
    );
}

#[test]
fn the_newest_registration_wins_and_the_old_node_drops_the_peer() {
    let mut a = node("a", 1);
    let mut b = node("b", 2);
    pump(&mut [("a", &mut a), ("b", &mut b)], 0.0);
    let mut p = Client::new(1, 1001, a.server);
    let mut w = Client::new(2, 2002, b.server);
    register(&mut p, &mut a, 1.0, 10);
    register(&mut w, &mut b, 1.0, 11);
    pump(&mut [("a", &mut a), ("b", &mut b)], 1.0);
    // p moves to b (from another port): b knows its key, no claim.
    let mut moved = Client::new(1, 3001, b.server);
    moved.ts = p.ts + 10;
    assert_eq!(register(&mut moved, &mut b, 2.0, 99), id(10));
    pump(&mut [("a", &mut a), ("b", &mut b)], 2.0);
    assert!(a.reg.peers.online(id(10)).is_none(), "a dropped it");
    let ex = p.ask(&mut a, 2.1, &Body::Keepalive { seq: seq(5) });
    assert!(
        ex.mine.is_empty() && ex.others.is_empty(),
        "the old session is gone"
    );
    assert_eq!(listed(&mut w, &mut b, 2.2), [(id(10), addr(3001))]);
    // An older registration heard late does not win back.
    let mut late = Client::new(1, 4001, a.server);
    late.ts = p.ts + 1; // above what a accepted, below the move
    let (bytes, _) = late.init(None);
    let answers = a.send(4001, 2.3, &bytes);
    assert!(answers.is_empty(), "a knows of the newer one: a replay");
    assert_eq!(listed(&mut w, &mut b, 2.4), [(id(10), addr(3001))]);
}

#[test]
fn a_node_silent_for_three_heartbeats_has_its_peers_dropped() {
    let mut a = node("a", 1);
    let mut b = node("b", 2);
    pump(&mut [("a", &mut a), ("b", &mut b)], 0.0);
    let mut p = Client::new(1, 1001, a.server);
    let mut w = Client::new(2, 2002, b.server);
    register(&mut p, &mut a, 0.5, 10);
    register(&mut w, &mut b, 0.5, 11);
    pump(&mut [("a", &mut a), ("b", &mut b)], 0.5);
    for s in 1..=2 {
        let secs = f64::from(s);
        for h in [&mut a, &mut b] {
            let now = h.at(secs);
            h.reg.cluster_tick(now, &mut h.out);
        }
        pump(&mut [("a", &mut a), ("b", &mut b)], secs);
    }
    // a falls silent after its heartbeat at 2 s.
    for s in [3.0, 4.0, 4.9] {
        let now = b.at(s);
        b.reg.cluster_tick(now, &mut b.out);
        b.out.bus.clear();
        assert_eq!(listed(&mut w, &mut b, s).len(), 1, "at {s} s");
    }
    let now = b.at(5.0);
    b.reg.cluster_tick(now, &mut b.out);
    assert!(
        listed(&mut w, &mut b, 5.0).is_empty(),
        "dropped 3 s after its last heartbeat"
    );
    let ex = w.ask(
        &mut b,
        5.1,
        &Body::Connect {
            seq: seq(9),
            target: id(10),
        },
    );
    assert!(
        matches!(
            ex.reply(),
            Body::Error {
                code: peerd_shared::proto::ErrorCode::PeerOffline,
                ..
            }
        ),
        "{:?}",
        ex.reply()
    );
}
