//! Three `peerd server` nodes acting as one (PostgreSQL + NATS on
//! loopback): daemons homed on different nodes get their ids from the
//! cluster database, see each other in LIST whichever node they ask, and
//! exchange messages both directly (the INTRO to the target comes from its
//! own home node) and relayed (RELAYED comes from the target's home node).

mod support;

use peerd_shared::control::{MsgStatus, PathKind};
use peerd_shared::PeerId;
use support::{poll_for, Daemon, Engines, Launch, Scratch, Server, CONVERGE};

/// Three nodes and one daemon homed on each. Fields drop in order:
/// daemons, nodes, engines, directories.
struct Three {
    daemons: Vec<Daemon>,
    ids: Vec<PeerId>,
    nodes: Vec<Server>,
    engines: Engines,
    tmp: Scratch,
}

impl Three {
    fn start(extra: [&[&str]; 3]) -> Self {
        let tmp = Scratch::new();
        let engines = Engines::start();
        let nodes: Vec<Server> = ["n1", "n2", "n3"]
            .iter()
            .map(|n| engines.node(n, &[]))
            .collect();
        let daemons: Vec<Daemon> = (0..3)
            .map(|i| {
                Launch::new(nodes[i].addr, &tmp.path(&format!("d{}", i + 1)))
                    .args(extra[i])
                    .spawn()
            })
            .collect();
        let ids = daemons.iter().map(Daemon::wait_registered).collect();
        Self {
            daemons,
            ids,
            nodes,
            engines,
            tmp,
        }
    }
}

#[test]
fn a_nodes_peers_are_listed_by_every_other_node() {
    let c = Three::start([&[], &[], &[]]);
    let mut sorted = c.ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 3, "three keys, three ids: {:?}", c.ids);
    let rows = c.engines.pg.keys();
    assert_eq!(
        rows.len(),
        3,
        "the ids of record are in PostgreSQL: {rows:?}"
    );
    for (id, _) in &rows {
        assert!(
            c.ids.iter().any(|i| i.get() == *id),
            "{rows:?} vs {:?}",
            c.ids
        );
    }
    replicated(&c);
    // Each daemon asked its own node, which answered for the whole cluster
    // (the first LISTs may have come before the replicas caught up).
    for (i, n) in c.nodes.iter().enumerate() {
        let line = n.wait_for_log(&format!("LIST from id {}: 2 peers", c.ids[i]));
        assert!(line.contains("2 peers"), "node n{}: {line}", i + 1);
    }
}

/// Waits until every daemon's home node lists every other daemon: the
/// presence replicas have caught up (a CONNECT to a peer of another node
/// before then is answered `unknown_peer`, see docs/cluster.md).
fn replicated(c: &Three) {
    for (i, d) in c.daemons.iter().enumerate() {
        let others: Vec<PeerId> = c
            .ids
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, id)| *id)
            .collect();
        poll_for(
            format!("node n{} to list {others:?}", i + 1),
            CONVERGE,
            || {
                let listed: Vec<PeerId> = d.list().ok()?.iter().map(|p| p.id).collect();
                others.iter().all(|o| listed.contains(o)).then_some(())
            },
        );
    }
}

#[test]
fn daemons_homed_on_different_nodes_exchange_messages_directly() {
    let c = Three::start([&[], &[], &[]]);
    replicated(&c);
    let (a, b) = (&c.daemons[0], &c.daemons[1]);
    let (ida, idb) = (c.ids[0], c.ids[1]);
    for i in 0..3 {
        let r = a.send(idb, &format!("a to b {i}"), true).expect("send");
        assert_eq!(r.status, MsgStatus::Delivered, "{r:?}");
        assert_eq!(r.path, Some(PathKind::Direct), "{r:?}");
        let r = b.send(ida, &format!("b to a {i}"), true).expect("send");
        assert_eq!(r.status, MsgStatus::Delivered, "{r:?}");
    }
    assert_eq!(b.texts_from(ida), ["a to b 0", "a to b 1", "a to b 2"]);
    assert_eq!(a.texts_from(idb), ["b to a 0", "b to a 1", "b to a 2"]);
    // The CONNECT went to a's home node n1; b got its INTRO from n2.
    c.nodes[0].wait_for_log(&format!("CONNECT id {ida} -> id {idb}"));
    let _ = &c.tmp;
}

#[test]
fn daemons_homed_on_different_nodes_exchange_messages_relayed() {
    let c = Three::start([&["--relay", "always"], &[], &["--relay", "always"]]);
    replicated(&c);
    let (a, b, z) = (&c.daemons[0], &c.daemons[1], &c.daemons[2]);
    let (ida, idb, idz) = (c.ids[0], c.ids[1], c.ids[2]);
    for i in 0..3 {
        let r = a.send(idb, &format!("relayed {i}"), true).expect("send");
        assert_eq!(r.status, MsgStatus::Delivered, "{r:?}");
        assert_eq!(r.path, Some(PathKind::Relayed), "{r:?}");
    }
    let r = z.send(ida, "from n3 to n1", true).expect("send");
    assert_eq!(
        (r.status, r.path),
        (MsgStatus::Delivered, Some(PathKind::Relayed)),
        "{r:?}"
    );
    let inbox = b.inbox(Some(ida)).expect("inbox");
    assert_eq!(inbox.len(), 3, "each once: {inbox:?}");
    for m in &inbox {
        assert_eq!(m.path, PathKind::Relayed, "{m:?}");
        // RELAYED comes from the receiver's own home node.
        assert_eq!(m.addr, c.nodes[1].addr.to_string(), "{m:?}");
    }
    let inbox = a.inbox(Some(idz)).expect("inbox");
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0].addr, c.nodes[0].addr.to_string());
    c.nodes[0].wait_for_log("through node n2");
}
