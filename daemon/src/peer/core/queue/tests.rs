//! The queue on a fake clock: the window, timers, retransmission delays
//! and expiry.

use std::time::{Duration, Instant};

use peerd_shared::{MsgId, PeerId};

use super::*;
use crate::peer::core::clock::Now;
use crate::peer::core::timing::MESSAGE_TIMEOUTS;

fn start() -> Now {
    Now {
        at: Instant::now(),
        unix_ms: 1_000_000,
    }
}

fn msg(to: u64, expires_ms: u64) -> OutMsg {
    let peer = PeerId::new(to).expect("valid id");
    OutMsg::new(peer, "x".into(), 0, expires_ms, Instant::now())
}

#[test]
fn retransmission_doubles_to_the_cap_restarts_and_stops_at_expiry() {
    let now = start();
    let mut m = msg(2, u64::MAX);
    let gaps: Vec<u128> = (0..7)
        .map(|_| (m.next_due(now) - now.at).as_millis())
        .collect();
    assert_eq!(gaps, [200, 400, 800, 1600, 3200, 5000, 5000]);
    m.restart();
    assert_eq!(m.next_due(now) - now.at, MESSAGE_TIMEOUTS.first());
    let mut soon = msg(2, now.unix_ms + 50);
    assert_eq!(soon.next_due(now) - now.at, Duration::from_millis(50));
}

#[test]
fn window_parks_the_excess_and_releases_in_order() {
    let mut q = Queue::default();
    let peer = PeerId::new(2).expect("valid id");
    let n = WINDOW as u64 + 2;
    for i in 0..n {
        q.insert(MsgId(i), msg(2, u64::MAX));
    }
    q.insert(MsgId(n), msg(3, u64::MAX));
    let admitted = (0..n).filter(|i| q.admit(MsgId(*i))).count();
    assert_eq!(admitted, WINDOW);
    assert!(q.admit(MsgId(n)), "another peer has its own window");
    assert!(!q.admit(MsgId(WINDOW as u64)), "still parked, parked once");
    assert_eq!(q.next_released(peer), None, "window full");
    q.remove(MsgId(0));
    assert_eq!(q.next_released(peer), Some(MsgId(WINDOW as u64)));
    assert!(q.admit(MsgId(WINDOW as u64)));
    assert_eq!(q.next_released(peer), None);
    q.remove(MsgId(1));
    assert_eq!(q.next_released(peer), Some(MsgId(WINDOW as u64 + 1)));
    assert_eq!(q.ids_of(peer).len(), WINDOW);
    assert_eq!(q.count_of(peer), WINDOW);
}

#[test]
fn timers_fire_in_order_and_removed_messages_do_not() {
    let mut q = Queue::default();
    let now = start();
    q.insert(MsgId(1), msg(2, u64::MAX));
    q.insert(MsgId(2), msg(2, u64::MAX));
    q.insert(MsgId(3), msg(2, u64::MAX));
    q.schedule(MsgId(1), now);
    q.schedule(MsgId(2), now);
    q.schedule(MsgId(2), now); // re-armed: 400 ms now
    q.schedule(MsgId(3), now);
    q.remove(MsgId(3));
    assert_eq!(q.next_deadline(), Some(now.at + MESSAGE_TIMEOUTS.first()));
    assert_eq!(q.pop_due(now.at), None);
    let later = now.at + Duration::from_secs(1);
    assert_eq!(q.pop_due(later), Some(MsgId(1)));
    assert_eq!(q.pop_due(later), Some(MsgId(2)));
    assert_eq!(q.pop_due(later), None);
    q.remove(MsgId(1));
    assert!(q.has_pending(PeerId::new(2).expect("valid id")));
}
