use super::*;

const KEY: [u8; 32] = [3; 32];

fn id(n: u64) -> PeerId {
    PeerId::new(n).expect("valid id")
}

fn p(n: u64) -> Presence {
    Presence {
        id: id(n),
        key: PublicKey([n as u8; 32]),
        ts: 50,
        addr: SocketAddr::from(([10, 0, 0, 1], 4000 + n as u16)),
    }
}

/// Delivers every message of `out` addressed to `to` (or to all).
fn deliver(out: &mut Vec<BusOut>, to: &mut Cluster, now_ms: u64) -> Vec<Inbound> {
    let mut back = Vec::new();
    let mut got = Vec::new();
    for m in out.drain(..) {
        if m.to == To::All || m.to == To::Node(to.name().to_owned()) {
            got.extend(to.receive(&m.bytes, now_ms, &mut back));
        }
    }
    *out = back;
    got
}

#[test]
fn a_node_joining_learns_the_others_peers_by_snapshot() {
    let (mut a, mut b) = (
        Cluster::new("a".into(), 1, KEY),
        Cluster::new("b".into(), 2, KEY),
    );
    let mut out = Vec::new();
    a.bus_state(true, 0, &mut out);
    a.announce(Event::Online(p(1)));
    a.flush(&mut out);
    out.clear(); // b is not listening yet: lost
    b.bus_state(true, 10, &mut out);
    // b's SNAPSHOT_REQUEST and heartbeat reach a.
    let got = deliver(&mut out, &mut a, 10);
    assert_eq!(got, [Inbound::SnapshotWanted { node: "b".into() }]);
    a.snapshot("b".into(), &[p(1)], &mut out);
    let got = deliver(&mut out, &mut b, 20);
    let online: Vec<_> = got
        .iter()
        .filter(|i| matches!(i, Inbound::Online { .. }))
        .collect();
    assert!(
        matches!(&online[..], [Inbound::Online { node, presence }] if node == "a" && presence.id == id(1)),
        "{got:?}"
    );
    assert_eq!(b.remote(id(1)).map(|r| r.addr), Some(p(1).addr));
    // What b asked a in return (b knew nothing of a) is a snapshot too.
    assert!(out.iter().all(|m| m.to == To::Node("a".into())));
}

#[test]
fn nothing_goes_out_and_nothing_remote_is_known_while_the_bus_is_down() {
    let mut a = Cluster::new("a".into(), 1, KEY);
    let mut b = Cluster::new("b".into(), 2, KEY);
    let mut out = Vec::new();
    b.bus_state(true, 0, &mut out);
    a.bus_state(true, 0, &mut out);
    out.clear();
    a.announce(Event::Online(p(1)));
    a.flush(&mut out);
    deliver(&mut out, &mut b, 1);
    out.clear();
    assert!(b.remote(id(1)).is_some());
    b.bus_state(false, 2, &mut out);
    assert!(b.remote(id(1)).is_none());
    a.bus_state(false, 2, &mut out);
    a.announce(Event::Offline { id: id(1), ts: 50 });
    a.flush(&mut out);
    a.tick(5000, &mut out);
    assert!(out.is_empty(), "{out:?}");
    // Back: a's heartbeat carries seq 2, which b never saw.
    a.bus_state(true, 6000, &mut out);
    b.bus_state(true, 6000, &mut out);
    let mut all = std::mem::take(&mut out);
    let got = deliver(&mut all, &mut b, 6001);
    assert!(got.contains(&Inbound::SnapshotWanted { node: "a".into() }));
    assert!(
        all.iter().any(|m| m.to == To::Node("a".into())),
        "b asks a for a snapshot"
    );
}

#[test]
fn forged_and_own_messages_are_dropped() {
    let mut a = Cluster::new("a".into(), 1, KEY);
    let mut other = Cluster::new("b".into(), 1, [4; 32]);
    let mut twin = Cluster::new("a".into(), 9, KEY);
    let mut out = Vec::new();
    a.bus_state(true, 0, &mut out);
    other.bus_state(true, 0, &mut out);
    twin.bus_state(true, 0, &mut out);
    out.clear();
    other.announce(Event::Online(p(1)));
    other.flush(&mut out);
    twin.announce(Event::Online(p(2)));
    twin.flush(&mut out);
    a.announce(Event::Online(p(3)));
    a.flush(&mut out);
    assert!(deliver(&mut out, &mut a, 1).is_empty());
    assert_eq!(a.counts(), (0, 0));
}
