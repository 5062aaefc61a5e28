//! Ids in a cluster: one new key registered on two nodes at the same
//! moment gets one id (the PostgreSQL sequence and unique key column decide,
//! and each node answers only after its commit), no id is given to two
//! keys, and a peer registered on two nodes is kept by the one with the
//! newest registration (split brain): the other drops it.

mod support;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use peerd_shared::proto::{Body, Identity, RespPayload, SecretKey};
use peerd_shared::PeerId;
use support::{handshake, poll_for, Client, Engines, Keys, Peer, Req, Server, CONVERGE};

fn three(engines: &Engines) -> Vec<Server> {
    ["n1", "n2", "n3"]
        .iter()
        .map(|n| engines.node(n, &[]))
        .collect()
}

/// REGISTER of `identity` at `node`; the id answered.
fn register(
    node: std::net::SocketAddr,
    identity: Identity,
    key: peerd_shared::proto::PublicKey,
) -> PeerId {
    let client = Client::new(node);
    let mut keys = Keys::with(identity, key);
    let answer = handshake(&client, &mut keys, &mut Vec::new());
    match answer.payload {
        RespPayload::Registered { id, .. } => id,
        other => panic!("REGISTER at {node} answered {other:?}"),
    }
}

#[test]
fn one_new_key_registered_on_two_nodes_at_once_gets_one_id() {
    let engines = Engines::start();
    let nodes = three(&engines);
    let key = nodes[0].key();
    assert_eq!(nodes[1].key(), key, "every node has the one key");
    let rounds = 12;
    let mut ids = Vec::new();
    for round in 0..rounds {
        let identity = Identity::new(SecretKey::generate().expect("key"));
        let gate = Arc::new(Barrier::new(2));
        let (a, b) = (nodes[round % 3].addr, nodes[(round + 1) % 3].addr);
        let threads: Vec<_> = [a, b]
            .into_iter()
            .map(|node| {
                let (gate, identity) = (gate.clone(), identity.clone());
                std::thread::spawn(move || {
                    gate.wait();
                    register(node, identity, key)
                })
            })
            .collect();
        let got: Vec<PeerId> = threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect();
        assert_eq!(got[0], got[1], "round {round}: one key, one id: {got:?}");
        ids.push(got[0]);
    }
    let rows = engines.pg.keys();
    assert_eq!(rows.len(), rounds, "one row per key: {rows:?}");
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), rounds, "no id given to two keys: {ids:?}");
    for id in &ids {
        assert!(rows.iter().any(|(r, _)| *r == id.get()), "{id} in {rows:?}");
    }
    // The same key again, on the third node: the same id, from its cache
    // or the database.
    let identity = Identity::new(SecretKey::generate().expect("key"));
    let first = register(nodes[0].addr, identity.clone(), key);
    assert_eq!(register(nodes[2].addr, identity, key), first);
}

#[test]
fn a_peer_registered_anew_on_another_node_is_dropped_by_the_old_one() {
    let engines = Engines::start();
    let nodes = three(&engines);
    let key = nodes[0].key();
    let identity = Identity::new(SecretKey::generate().expect("key"));
    let mut old = Peer::join_with(
        Client::new(nodes[0].addr),
        Keys::with(identity.clone(), key),
    );
    let mut watcher = Peer::join(&nodes[2]);
    poll_for("n3 to list the peer at n1", CONVERGE, || {
        let (listed, _) = watcher.call(Req::List(0)).listed();
        listed.contains(&(old.id, old.seen_as)).then_some(())
    });
    // The same key registers with n2 (it moved): a newer handshake.
    let mut new = Peer::join_with(Client::new(nodes[1].addr), Keys::with(identity, key));
    assert_eq!(new.id, old.id, "the same key keeps its id");
    nodes[0].wait_for_log(&format!(
        "id {} registered anew on node n2: dropped here",
        old.id
    ));
    poll_for("n3 to list the peer at its new address", CONVERGE, || {
        let (listed, _) = watcher.call(Req::List(0)).listed();
        let entries: Vec<_> = listed.iter().filter(|(id, _)| *id == new.id).collect();
        (entries == [&(new.id, new.seen_as)]).then_some(())
    });
    // n1 forgot the old session: its KEEPALIVE goes unanswered.
    let frame = old.seal(&Peer::encode(&Body::Keepalive {
        seq: peerd_shared::Seq(1),
    }));
    old.client.send(&frame);
    old.client.expect_silence(Duration::from_millis(500));
    // A CONNECT from n3 reaches the peer at n2, and the INTRO comes from n2.
    let ack = watcher.call(Req::Connect(new.id));
    assert!(
        matches!(ack.body(), Body::ConnectAck { addr, .. } if addr == new.seen_as),
        "{:?}",
        ack.body()
    );
    let intro = new.next();
    assert!(
        matches!(intro.body(), Body::Intro { from, .. } if from == watcher.id),
        "{:?}",
        intro.body()
    );
}
