use super::*;
use peerd_shared::proto::SessionKeys;

fn id(n: u64) -> PeerId {
    PeerId::new(n).expect("valid id")
}

fn keys() -> SessionKeys {
    SessionKeys {
        send: [1; 32],
        recv: [2; 32],
    }
}

#[test]
fn bitset_walks_members_in_order() {
    let mut b = BitSet::default();
    for i in [0, 63, 64, 200] {
        b.set(i, true);
    }
    b.set(1000, false);
    let mut seen = vec![];
    let mut at = Some(0);
    while let Some(i) = at.and_then(|f| b.next_from(f)) {
        seen.push(i);
        at = Some(i + 1);
    }
    assert_eq!(seen, [0, 63, 64, 200]);
    assert_eq!(b.next_from(201), None);
    assert_eq!(b.next_from(100_000), None);
}

#[test]
fn loaded_ids_with_gaps_and_v1_reservations_continue_after_the_highest() {
    let p = Peers::load(
        [
            (id(1), PublicKey([1; 32]), 5),
            (id(3), PublicKey([3; 32]), 0),
        ],
        7,
    );
    assert!(p.is_registered(id(3)));
    assert!(!p.is_registered(id(2)));
    assert_eq!(p.next_id(), Some(id(8)));
    assert_eq!(p.id_of(&PublicKey([3; 32])), Some(id(3)));
    assert_eq!(p.last_ts(id(1)), 5);
    assert_eq!(
        p.id_of(&PublicKey([0; 32])),
        None,
        "reserved slots hold no key"
    );
}

#[test]
fn learned_ids_keep_their_place_and_a_clash_changes_nothing() {
    let mut p = Peers::default();
    assert!(p.learn(id(5), PublicKey([5; 32])));
    assert!(p.learn(id(5), PublicKey([5; 32])), "again: the same");
    assert!(p.learn(id(2), PublicKey([2; 32])), "below the highest");
    assert!(!p.learn(id(5), PublicKey([6; 32])), "another key for id 5");
    assert!(
        !p.learn(id(7), PublicKey([2; 32])),
        "key 2 under another id"
    );
    assert_eq!(p.id_of(&PublicKey([5; 32])), Some(id(5)));
    assert_eq!(p.id_of(&PublicKey([2; 32])), Some(id(2)));
    assert!(p.is_registered(id(2)) && !p.is_registered(id(3)));
    assert_eq!(p.key_of(id(5)), Some(PublicKey([5; 32])));
}

#[test]
fn abandoned_ids_are_never_reused() {
    let mut p = Peers::default();
    let a = p.assign(PublicKey([9; 32])).unwrap();
    p.abandon(a);
    assert_eq!(p.id_of(&PublicKey([9; 32])), None);
    assert!(!p.is_registered(a));
    let b = p.assign(PublicKey([9; 32])).unwrap();
    assert_eq!((a, b), (id(1), id(2)));
}

fn install_next(p: &mut Peers, a: PeerId, remote: u32, now_ms: u64) -> u32 {
    let local = p.next_index(a).unwrap();
    p.install(a, keys(), local, remote, now_ms);
    local
}

fn current_remote(p: &mut Peers, a: PeerId) -> Option<u32> {
    p.current(a).map(|l| l.session.remote)
}

#[test]
fn an_unconfirmed_session_never_takes_over_from_a_confirmed_one() {
    let mut p = Peers::default();
    let a = p.assign(PublicKey([9; 32])).unwrap();
    p.confirm(a);
    let first = install_next(&mut p, a, 71, 0);
    let second = install_next(&mut p, a, 72, 10);
    assert_ne!(first, second);
    assert_eq!(first >> 3, second >> 3, "one slot");
    assert_eq!(
        current_remote(&mut p, a),
        Some(72),
        "nothing confirmed: the newest"
    );
    p.confirm_session(first, 20);
    assert_eq!(
        current_remote(&mut p, a),
        Some(71),
        "the one the daemon kept"
    );
    let third = install_next(&mut p, a, 73, 30);
    assert_eq!(
        current_remote(&mut p, a),
        Some(71),
        "a retry waits beside it"
    );
    assert!(p.session(third).is_some(), "and receives");
    p.confirm_session(third, 40);
    assert_eq!(current_remote(&mut p, a), Some(73));
    assert!(
        p.session(first).is_some(),
        "the replaced one keeps receiving"
    );
    p.sweep_side(40 + PREVIOUS_GRACE_MS);
    assert!(p.session(first).is_none());
    assert!(p.session(second).is_none(), "never confirmed: forgotten");
    assert!(p.session(third).is_some());
    assert!(p.session(third ^ 8).is_none(), "another slot's index");
    p.drop_sessions(a);
    assert!(p.session(third).is_none());
}
