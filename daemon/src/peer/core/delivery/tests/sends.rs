//! Messages: retransmission timing, a path that stops answering, expiry,
//! unknown peers, admission, the window, messages that cannot be sealed.

use peerd_shared::control::{ErrorKind, MsgStatus, PathKind};
use peerd_shared::MsgId;

use super::{id, peer_addr, Bench};
use crate::peer::args::RelayPolicy;
use crate::peer::core::delivery::{Action, Admission, Change, LookupAnswer};
use crate::peer::core::queue::WINDOW;
use crate::peer::core::registration::LinkError;
use crate::peer::core::transport::Route;

/// The store changes recorded from `from` ms on.
fn records(b: &Bench, from: u64) -> Vec<(u64, (MsgId, Change, MsgStatus))> {
    b.logged(from, |a| match a {
        Action::Record {
            msg,
            change,
            outcome,
        } => Some((*msg, change.clone(), outcome.status)),
        _ => None,
    })
}

#[test]
fn retransmits_200_ms_doubling_up_to_5_s_until_acknowledged() {
    let mut b = Bench::direct();
    b.queue(1, 0, 60_000);
    // The peer keeps probing, so the path stays heard (not suspect).
    for s in 1..=21 {
        b.run_until(s * 1000);
        b.probed(s * 1000, 7, false);
    }
    b.run_until(21_500);
    b.acked(1, 21_500, Route::Direct(peer_addr()));
    b.run_until(60_000);
    let direct = Route::Direct(peer_addr());
    let sent: Vec<u64> = b.messages(0).into_iter().map(|(ms, _)| ms).collect();
    assert_eq!(
        sent,
        [0, 200, 600, 1400, 3000, 6200, 11_200, 16_200, 21_200],
        "200 ms doubling, capped at 5 s"
    );
    assert!(b.messages(0).iter().all(|(_, (_, r))| *r == direct));
    let delivered = Change::Delivered {
        path: PathKind::Direct,
        at_ms: b.at(21_500).unix_ms,
        attempts: 9,
    };
    assert_eq!(
        records(&b, 0),
        [(21_500, (MsgId(1), delivered, MsgStatus::Delivered))]
    );
}

#[test]
fn a_path_that_stops_answering_is_looked_up_again() {
    let mut b = Bench::direct();
    b.queue(1, 0, 60_000);
    b.run_until(6_200);
    let sent: Vec<u64> = b.messages(0).into_iter().map(|(ms, _)| ms).collect();
    assert_eq!(
        sent,
        [0, 200, 600, 1400, 3000],
        "the fifth send is the last"
    );
    assert_eq!(
        b.lookups(0),
        [(6_200, false)],
        "silent for > 3 s after 4 sends"
    );
}

#[test]
fn a_message_expires_when_its_ttl_runs_out() {
    let mut b = Bench::new(RelayPolicy::Auto);
    b.queue(1, 0, 1_000);
    assert_eq!(b.lookups(0), [(0, false)]);
    let offline = Err(LinkError::PeerOffline(id(2)));
    b.core.looked_up(id(2), offline, false, b.at(10));
    b.record(10);
    b.run_until(5_000);
    let noted = Change::Noted {
        error: "peer 2 is offline".into(),
        attempts: 0,
    };
    let failed = Change::Failed {
        error: "expired at 2023-11-14 22:13:21 UTC: peer 2 is offline".into(),
        attempts: 0,
    };
    assert_eq!(
        records(&b, 0),
        [
            (10, (MsgId(1), noted, MsgStatus::Queued)),
            (1_000, (MsgId(1), failed, MsgStatus::Failed)),
        ]
    );
    assert_eq!(
        b.lookups(1),
        [(510, false)],
        "looked up again after 500 ms, not after the message failed"
    );
}

#[test]
fn messages_to_a_peer_never_registered_fail_at_once() {
    let mut b = Bench::new(RelayPolicy::Auto);
    assert_eq!(b.core.admit(id(2), b.at(0)), Admission::AfterLookup);
    b.queue(1, 0, 60_000);
    b.core
        .looked_up(id(2), Err(LinkError::UnknownPeer(id(2))), false, b.at(5));
    b.record(5);
    let failed = Change::Failed {
        error: "peer 2 was never registered".into(),
        attempts: 0,
    };
    assert_eq!(records(&b, 0), [(5, (MsgId(1), failed, MsgStatus::Failed))]);
    let found = b.logged(0, |a| match a {
        Action::Found { answer, .. } => Some(answer.clone()),
        _ => None,
    });
    assert_eq!(found, [(5, LookupAnswer::Unknown)]);
}

#[test]
fn admission_says_whether_to_store_now_and_with_what_note() {
    let mut b = Bench::new(RelayPolicy::Auto);
    let now = b.at(0);
    let Admission::Refused(e) = b.core.admit(id(1), now) else {
        panic!("sending to oneself");
    };
    assert_eq!(e.code, ErrorKind::SelfTarget);
    assert_eq!(b.core.admit(id(2), now), Admission::AfterLookup);
    let lookup = b.record(0);
    assert!(matches!(
        lookup[..],
        [Action::Lookup { upgrade: false, .. }]
    ));
    b.core.link_down();
    let problem = Some("not registered with the server yet".to_owned());
    assert_eq!(b.core.admit(id(3), now), Admission::Now { problem });
    let offline = Err(LinkError::PeerOffline(id(2)));
    b.core.looked_up(id(2), offline, false, now);
    let problem = Some("peer 2 is offline".to_owned());
    assert_eq!(b.core.admit(id(2), now), Admission::Now { problem });
}

#[test]
fn the_window_parks_the_excess_and_an_ack_releases_the_next() {
    let mut b = Bench::direct();
    let n = WINDOW as u64 + 1;
    for i in 1..=n {
        b.queue(i, 0, 60_000);
    }
    assert_eq!(b.messages(0).len(), WINDOW);
    b.acked(1, 10, Route::Direct(peer_addr()));
    let released = b.messages(10);
    assert_eq!(released, [(10, (MsgId(n), Route::Direct(peer_addr())))]);
}

#[test]
fn a_message_the_transport_cannot_seal_fails_with_the_reason() {
    let mut b = Bench::new(RelayPolicy::Always);
    b.found(0, false);
    b.queue(1, 0, 60_000);
    assert_eq!(b.messages(0), [(0, (MsgId(1), Route::Relayed))]);
    b.core
        .unsendable(MsgId(1), "too long to relay".into(), b.at(1));
    b.record(1);
    let failed = Change::Failed {
        error: "too long to relay".into(),
        attempts: 1,
    };
    assert_eq!(records(&b, 0), [(1, (MsgId(1), failed, MsgStatus::Failed))]);
    b.run_until(10_000);
    assert_eq!(b.messages(1), [], "not sent again");
}

#[test]
fn messages_for_the_id_a_re_registration_gave_this_daemon_fail_at_once() {
    let mut b = Bench::direct();
    b.queue(1, 0, 3_600_000);
    b.queue(2, 0, 3_600_000);
    b.core.link_down();
    // The server lost its registry and gave this daemon id 2.
    b.core.link_up(id(2), b.at(100));
    b.record(100);
    let failed = |n| {
        let change = Change::Failed {
            error: "peer 2 is this daemon itself (the server gave it that id when it registered)"
                .into(),
            attempts: 1,
        };
        (100, (MsgId(n), change, MsgStatus::Failed))
    };
    assert_eq!(records(&b, 100), [failed(1), failed(2)]);
    let codes = b.logged(100, |a| match a {
        Action::Record { outcome, .. } => outcome.code,
        _ => None,
    });
    assert_eq!(codes, [(100, ErrorKind::SelfTarget); 2]);
    b.run_until(60_000);
    assert_eq!(b.messages(101), [], "never sent again");
}

#[test]
fn a_forgotten_message_is_not_sent_again_and_frees_its_slot() {
    let mut b = Bench::direct();
    let n = WINDOW as u64 + 1;
    for i in 1..=n {
        b.queue(i, 0, 60_000);
    }
    assert!(b.core.forget(MsgId(1), b.at(10)).is_some());
    b.record(10);
    assert!(b.core.forget(MsgId(1), b.at(10)).is_none(), "only once");
    assert_eq!(
        b.messages(10),
        [(10, (MsgId(n), Route::Direct(peer_addr())))],
        "the parked message takes the slot"
    );
    assert_eq!(records(&b, 0), [], "no outcome is recorded");
    b.run_until(30_000);
    assert!(b.messages(11).iter().all(|(_, (m, _))| *m != MsgId(1)));
}
