//! What a cluster does when one of its parts fails, and how long it takes
//! to recover (printed, for the record; the deadlines only catch a cluster
//! that does not recover):
//!
//! - PostgreSQL down: known peers keep working (keys are cached in each
//!   node); a new key gets `internal`; once it is back, new keys register
//!   again, without a restart.
//! - NATS down: each node serves its own peers; CONNECT to a peer of
//!   another node answers `peer_offline`; once NATS is back the nodes
//!   reconnect, resynchronise and CONNECT works again, without a restart.
//! - `kill -9` of a node: its daemons move to the next node within 3
//!   keepalive intervals, keep their ids, and what was queued meanwhile is
//!   delivered exactly once.

mod support;

use std::time::{Duration, Instant};

use peerd_shared::control::{MsgStatus, PathKind, RegState};
use peerd_shared::proto::{Body, ErrorCode, RespPayload};
use support::{
    handshake, poll_for, servers, Client, Engines, Keys, Launch, Peer, Req, Scratch, Server,
    CONVERGE,
};

fn three(engines: &Engines, extra: &[&str]) -> Vec<Server> {
    ["n1", "n2", "n3"]
        .iter()
        .map(|n| engines.node(n, extra))
        .collect()
}

/// A REGISTER of a new key at `node`: what the node answered.
fn register_new(node: &Server) -> RespPayload {
    let client = Client::new(node.addr);
    let mut keys = Keys::new(node.key());
    handshake(&client, &mut keys, &mut Vec::new()).payload
}

#[test]
fn with_postgres_down_known_peers_work_and_new_keys_get_internal_until_it_is_back() {
    let mut engines = Engines::start();
    let nodes = three(&engines, &[]);
    let mut a = Peer::join(&nodes[0]);
    let mut b = Peer::join(&nodes[1]);
    poll_for("b listed at n1", CONVERGE, || {
        let (listed, _) = a.call(Req::List(0)).listed();
        listed.iter().any(|(id, _)| *id == b.id).then_some(())
    });

    engines.pg.stop();
    let down = Instant::now();
    match register_new(&nodes[0]) {
        RespPayload::Refused { code, .. } => assert_eq!(code, ErrorCode::Internal),
        other => panic!("a new key with the database down: {other:?}"),
    }
    nodes[0].wait_for_log("internal: no id from the cluster database");
    // Known peers: refresh, LIST, CONNECT across nodes, a new handshake.
    assert!(matches!(
        a.call(Req::Keepalive).body(),
        Body::KeepaliveAck { .. }
    ));
    let ack = a.call(Req::Connect(b.id));
    assert!(
        matches!(ack.body(), Body::ConnectAck { .. }),
        "{:?}",
        ack.body()
    );
    assert!(matches!(b.next().body(), Body::Intro { .. }));
    assert!(matches!(b.register(), RespPayload::Registered { .. }));
    let (listed, _) = b.call(Req::List(0)).listed();
    assert!(listed.iter().any(|(id, _)| *id == a.id), "{listed:?}");

    engines.pg.restart();
    let up = Instant::now();
    let id = poll_for(
        "a new key to register again",
        CONVERGE,
        || match register_new(&nodes[2]) {
            RespPayload::Registered { id, .. } => Some(id),
            _ => None,
        },
    );
    println!(
        "postgres down for {:?}; a new key registered {:?} after it was back (id {id})",
        up - down,
        up.elapsed()
    );
    assert_eq!(engines.pg.keys().len(), 3, "a, b and the new key");
}

#[test]
fn with_nats_down_cross_node_connect_is_peer_offline_and_heals_when_it_is_back() {
    let mut engines = Engines::start();
    let nodes = three(&engines, &[]);
    let mut a = Peer::join(&nodes[0]);
    let mut b = Peer::join(&nodes[1]);
    let mut local = Peer::join(&nodes[0]);
    poll_for("CONNECT a -> b across nodes", CONVERGE, || {
        matches!(a.call(Req::Connect(b.id)).body(), Body::ConnectAck { .. }).then_some(())
    });
    assert!(matches!(b.next().body(), Body::Intro { .. }));

    engines.nats.kill();
    let down = Instant::now();
    poll_for("CONNECT a -> b to answer peer_offline", CONVERGE, || {
        let reply = a.call(Req::Connect(b.id));
        matches!(
            reply.body(),
            Body::Error {
                code: ErrorCode::PeerOffline,
                ..
            }
        )
        .then_some(())
    });
    let noticed = down.elapsed();
    nodes[0].wait_for_log("cluster bus lost");
    // Each node serves its own peers.
    let ack = a.call(Req::Connect(local.id));
    assert!(
        matches!(ack.body(), Body::ConnectAck { .. }),
        "{:?}",
        ack.body()
    );
    assert!(matches!(local.next().body(), Body::Intro { .. }));
    let (listed, _) = a.call(Req::List(0)).listed();
    let ids: Vec<_> = listed.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [local.id], "only n1's own peers");
    assert!(matches!(
        b.call(Req::Keepalive).body(),
        Body::KeepaliveAck { .. }
    ));

    engines.nats.restart();
    let up = Instant::now();
    poll_for("CONNECT a -> b across nodes again", CONVERGE, || {
        matches!(a.call(Req::Connect(b.id)).body(), Body::ConnectAck { .. }).then_some(())
    });
    let healed = up.elapsed();
    assert!(
        matches!(b.next().body(), Body::Intro { .. }),
        "INTRO from n2 again"
    );
    poll_for("LIST at n3 to show a and b", CONVERGE, || {
        let (listed, _) = local.call(Req::List(0)).listed();
        let ids: Vec<_> = listed.iter().map(|(id, _)| *id).collect();
        (ids.contains(&a.id) && ids.contains(&b.id)).then_some(())
    });
    println!(
        "nats down: peer_offline answered {noticed:?} after the kill; \
         cross-node CONNECT back {healed:?} after the restart"
    );
}

#[test]
fn after_kill_9_of_a_node_its_daemons_rehome_keep_their_ids_and_queued_messages_arrive_once() {
    const KEEPALIVE: u64 = 10;
    let tmp = Scratch::new();
    let engines = Engines::start();
    let keepalive = KEEPALIVE.to_string();
    let mut nodes = three(&engines, &["--keepalive", &keepalive]);
    let (n1, n2, n3) = (&nodes[0], &nodes[1], &nodes[2]);
    let a = Launch::new(servers(&[n1, n2, n3]), &tmp.path("a"))
        .args(&["--relay", "always"])
        .start();
    let b = Launch::new(servers(&[n2, n3, n1]), &tmp.path("b")).start();
    let (ida, idb) = (a.wait_registered(), b.wait_registered());
    let status = a.peerctl(&["status", "--json"]).json();
    assert_eq!(status["server"], n1.addr.to_string(), "{status}");
    let r = a.send(idb, "before", true).expect("send");
    assert_eq!(
        (r.status, r.path),
        (MsgStatus::Delivered, Some(PathKind::Relayed))
    );

    let killed_addr = n1.addr;
    let n2_addr = n2.addr.to_string();
    nodes[0].proc.kill();
    let killed = Instant::now();
    // Queued while a's home is gone: relayed messages need a home.
    for i in 0..3 {
        let r = a.send(idb, &format!("queued {i}"), false).expect("send");
        assert_ne!(r.status, MsgStatus::Failed, "{r:?}");
    }
    let limit = Duration::from_secs(3 * KEEPALIVE);
    let rehomed = poll_for("a to re-home on n2", limit, || {
        let s = a.status().ok()?;
        (s.state == RegState::Registered && s.server == n2_addr).then(|| (s, killed.elapsed()))
    });
    assert_eq!(rehomed.0.id, Some(ida), "the same key keeps its id");
    let texts = poll_for("the queued messages at b", CONVERGE, || {
        let t = b.texts_from(ida);
        (t.len() >= 4).then_some(t)
    });
    let delivered = killed.elapsed();
    assert_eq!(
        texts,
        ["before", "queued 0", "queued 1", "queued 2"],
        "each once"
    );
    poll_for("a's outbox to say delivered", CONVERGE, || {
        let out = a.outbox().ok()?;
        out.iter()
            .all(|m| m.status == MsgStatus::Delivered)
            .then_some(())
    });
    // Still exactly once, after every retransmission is settled.
    assert_eq!(b.texts_from(ida).len(), 4);
    // n3 dropped n1's peers, and lists a where it is now.
    nodes[2].wait_for_log("node silent for 3 heartbeats");
    let json = a.peerctl(&["status", "--json"]).json();
    assert_eq!(json["server"], n2_addr, "{json}");
    assert_ne!(json["server"], killed_addr.to_string());
    println!(
        "kill -9 of n1: a re-homed on n2 after {:?} (keepalive {KEEPALIVE} s, limit {limit:?}); \
         queued messages delivered {delivered:?} after the kill",
        rehomed.1
    );
    drop(nodes.remove(0));
}
