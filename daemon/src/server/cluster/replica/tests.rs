use super::*;

fn id(n: u64) -> PeerId {
    PeerId::new(n).expect("valid id")
}

fn p(n: u64, ts: u64) -> Presence {
    Presence {
        id: id(n),
        key: PublicKey([n as u8; 32]),
        ts,
        addr: SocketAddr::from(([10, 0, 0, 1], 4000 + n as u16)),
    }
}

fn ids(r: &Replica) -> Vec<u64> {
    r.from(id(1)).map(|(i, _)| i.get()).collect()
}

fn online(n: u64, ts: u64) -> Event {
    Event::Online(p(n, ts))
}

#[test]
fn announcements_in_order_apply_and_a_gap_asks_for_a_snapshot() {
    let mut r = Replica::default();
    let mut seen = Vec::new();
    // First contact: applied at once, and a snapshot is asked for.
    assert!(r.on_announce("b", 7, 1, &[online(1, 10)], 0, &mut seen));
    assert_eq!(ids(&r), [1]);
    // Asked already: not again before the retry time.
    assert!(!r.on_announce("b", 7, 2, &[online(2, 10)], 100, &mut seen));
    assert!(!r.on_snapshot("b", 7, 1, 1, 0, true, &[p(1, 10)], 200, &mut seen));
    assert_eq!(ids(&r), [1, 2], "seq 2 replayed on top of the snapshot");
    // In order: nothing to ask.
    let off = Event::Offline { id: id(1), ts: 10 };
    assert!(!r.on_announce("b", 7, 3, &[off], 300, &mut seen));
    assert_eq!(ids(&r), [2]);
    // Seq 4 lost: 5 is applied and a snapshot asked for.
    assert!(r.on_announce("b", 7, 5, &[online(5, 10)], 400, &mut seen));
    assert_eq!(ids(&r), [2, 5]);
    // A duplicate of an old one changes nothing once synced again.
    assert!(!r.on_snapshot(
        "b",
        7,
        2,
        5,
        0,
        true,
        &[p(2, 10), p(5, 10), p(4, 10)],
        500,
        &mut seen
    ));
    assert_eq!(ids(&r), [2, 4, 5]);
    assert!(!r.on_announce("b", 7, 3, &[online(9, 10)], 600, &mut seen));
    assert_eq!(ids(&r), [2, 4, 5]);
}

#[test]
fn a_heartbeat_ahead_of_the_last_announcement_reveals_a_lost_one() {
    let mut r = Replica::default();
    let mut seen = Vec::new();
    assert!(r.on_heartbeat("b", 1, 0, 0), "a node never heard of");
    assert!(!r.on_snapshot("b", 1, 9, 0, 0, true, &[], 10, &mut seen));
    assert!(!r.on_heartbeat("b", 1, 0, 1000), "in step");
    assert!(r.on_heartbeat("b", 1, 1, 2000), "ANNOUNCE 1 never came");
    assert!(!r.on_heartbeat("b", 1, 1, 3000), "asked already");
    assert_eq!(r.overdue(3999), Vec::<String>::new());
    assert_eq!(r.overdue(4000), ["b"], "asked again after the retry time");
}

#[test]
fn a_silent_node_is_dropped_with_its_peers_after_three_heartbeats() {
    let mut r = Replica::default();
    let mut seen = Vec::new();
    r.on_snapshot("b", 1, 1, 0, 0, true, &[p(1, 5), p(2, 5)], 0, &mut seen);
    r.on_snapshot("c", 1, 1, 0, 0, true, &[p(3, 5)], 0, &mut seen);
    assert_eq!(r.nodes(), 2);
    r.on_heartbeat("c", 1, 0, 2000);
    assert!(r.expire(DEAD_AFTER_MS - 1).is_empty());
    assert_eq!(r.expire(DEAD_AFTER_MS), [("b".to_owned(), 2)]);
    assert_eq!(ids(&r), [3]);
    assert_eq!(r.expire(2000 + DEAD_AFTER_MS), [("c".to_owned(), 1)]);
    assert_eq!(r.len(), 0);
}

#[test]
fn a_restarted_node_loses_its_old_peers() {
    let mut r = Replica::default();
    let mut seen = Vec::new();
    r.on_snapshot("b", 1, 1, 0, 0, true, &[p(1, 5)], 0, &mut seen);
    assert!(
        r.on_heartbeat("b", 2, 0, 100),
        "a new incarnation is synced anew"
    );
    assert_eq!(r.len(), 0);
}

#[test]
fn the_newest_registration_of_a_peer_wins_whatever_the_order() {
    let mut r = Replica::default();
    let mut seen = Vec::new();
    r.on_snapshot("b", 1, 1, 0, 0, true, &[], 0, &mut seen);
    r.on_snapshot("c", 1, 1, 0, 0, true, &[], 0, &mut seen);
    // The peer moved from b (ts 10) to c (ts 20); c's news came first.
    r.on_announce("c", 1, 1, &[online(1, 20)], 1, &mut seen);
    r.on_announce("b", 1, 1, &[online(1, 10)], 2, &mut seen);
    let at = r.get(id(1)).unwrap();
    assert_eq!((r.node_name(at.node), at.ts), ("c", 20));
    // b's late offline does not remove c's registration.
    r.on_announce(
        "b",
        1,
        2,
        &[Event::Offline { id: id(1), ts: 10 }],
        3,
        &mut seen,
    );
    assert!(r.get(id(1)).is_some());
    // A tie goes to the greater name, for every node alike.
    r.on_announce("b", 1, 3, &[online(2, 30)], 4, &mut seen);
    r.on_announce("c", 1, 2, &[online(2, 30)], 5, &mut seen);
    assert_eq!(r.node_name(r.get(id(2)).unwrap().node), "c");
    assert!(wins(30, "c", 30, "b") && !wins(30, "b", 30, "c"));
    // Counting per node stays right: b holds nothing now.
    assert_eq!(r.expire(4 + DEAD_AFTER_MS), [("b".to_owned(), 0)]);
    assert_eq!(ids(&r), [1, 2]);
}

#[test]
fn a_snapshot_with_a_missing_part_is_thrown_away_and_asked_again() {
    let mut r = Replica::default();
    let mut seen = Vec::new();
    assert!(r.on_heartbeat("b", 1, 4, 0));
    assert!(!r.on_snapshot("b", 1, 5, 4, 0, false, &[p(1, 1)], 10, &mut seen));
    // Part 1 lost; part 2 is the last.
    assert!(
        !r.on_snapshot("b", 1, 5, 4, 2, true, &[p(3, 1)], 20, &mut seen),
        "asked at 0"
    );
    assert_eq!(r.len(), 0);
    assert_eq!(r.overdue(SNAPSHOT_RETRY_MS), ["b"]);
    assert!(!r.on_snapshot("b", 1, 6, 4, 0, false, &[p(1, 1)], 2100, &mut seen));
    assert!(!r.on_snapshot("b", 1, 6, 4, 1, true, &[p(2, 1)], 2200, &mut seen));
    assert_eq!(ids(&r), [1, 2]);
    assert_eq!(
        r.overdue(10_000),
        Vec::<String>::new(),
        "synced: nothing due"
    );
}

#[test]
fn losing_the_bus_forgets_everything() {
    let mut r = Replica::default();
    let mut seen = Vec::new();
    r.on_snapshot("b", 1, 1, 0, 0, true, &[p(1, 5)], 0, &mut seen);
    r.clear();
    assert_eq!((r.len(), r.nodes()), (0, 0));
    assert!(r.on_heartbeat("b", 1, 0, 10), "heard again: synced anew");
}
