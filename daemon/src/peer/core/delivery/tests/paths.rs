//! Paths: the punch window and the fall-back to relay at 3 s, the relay
//! policies, a path proof before the introduction, keepalives and
//! re-punching of a silent direct path, the upgrade of a relayed path to
//! direct, and a peer whose key changed.

use peerd_shared::control::ErrorKind;
use peerd_shared::MsgId;

use super::{peer_addr, Bench};
use crate::peer::args::RelayPolicy;
use crate::peer::core::delivery::{Action, Change};
use crate::peer::core::transport::{PeerPacket, Route};

fn direct() -> Route {
    Route::Direct(peer_addr())
}

#[test]
fn punches_every_200_ms_for_3_s_then_relays() {
    let mut b = Bench::new(RelayPolicy::Auto);
    b.queue(1, 0, 60_000);
    assert_eq!(b.lookups(0), [(0, false)]);
    b.found(50, false);
    b.run_until(3_100);
    let probes: Vec<(u64, Route)> = (0..15).map(|k| (50 + 200 * k, direct())).collect();
    assert_eq!(b.punches(0), probes, "from the introduction to 2850 ms");
    assert_eq!(
        b.messages(0),
        [(3_050, (MsgId(1), Route::Relayed))],
        "nothing before the punch window ends, then over the relay"
    );
    let info = b.core.paths(b.at(3_100));
    assert_eq!(info[0].state, "relayed");
    assert_eq!(info[0].reason.as_deref(), Some("punch timed out after 3 s"));
}

#[test]
fn relay_never_waits_and_looks_the_peer_up_again() {
    let mut b = Bench::new(RelayPolicy::Never);
    b.queue(1, 0, 60_000);
    b.found(0, false);
    b.run_until(3_000);
    assert_eq!(b.messages(0), [], "never relayed");
    let noted = b.logged(0, |a| match a {
        Action::Record {
            change: Change::Noted { error, .. },
            ..
        } => Some(error.clone()),
        _ => None,
    });
    let why = "punch timed out after 3 s (relay disabled)".to_owned();
    assert_eq!(noted, [(3_000, why)]);
    b.run_until(5_000);
    assert_eq!(b.lookups(1), [(4_000, false)], "after the lookup backoff");
}

#[test]
fn relay_always_never_punches_nor_answers_a_direct_probe() {
    let mut b = Bench::new(RelayPolicy::Always);
    b.queue(1, 0, 60_000);
    b.found(10, false);
    assert_eq!(b.messages(0), [(10, (MsgId(1), Route::Relayed))]);
    b.probed(20, 7, false);
    b.proven(25);
    b.run_until(3_000);
    assert_eq!(b.punches(0), [], "no punch probes");
    let answers = b.logged(0, |a| match a {
        Action::Transmit {
            packet: PeerPacket::ProbeAck { .. },
            ..
        } => Some(()),
        _ => None,
    });
    assert_eq!(answers, [], "a PROBE_ACK would let the peer record a path");
    let info = b.core.paths(b.at(3_000));
    assert_eq!(info[0].state, "relayed", "a path proof changes nothing");
}

#[test]
fn a_path_proof_before_the_introduction_makes_the_path_direct() {
    let mut b = Bench::new(RelayPolicy::Auto);
    b.probed(0, 9, false);
    let answered = b.logged(0, |a| match a {
        Action::Transmit {
            packet: PeerPacket::ProbeAck { nonce },
            route,
            ..
        } => Some((*nonce, *route)),
        _ => None,
    });
    assert_eq!(
        answered,
        [(0, (9, direct()))],
        "a PROBE is answered where it came from"
    );
    b.queue(1, 10, 60_000);
    assert_eq!(
        b.messages(0),
        [],
        "no path yet: a PROBE alone proves nothing here"
    );
    b.proven(15);
    b.found(20, false);
    assert_eq!(
        b.messages(0),
        [(15, (MsgId(1), direct())), (20, (MsgId(1), direct()))],
        "sent once proven, and again when the lookup confirms the path"
    );
    assert_eq!(b.punches(0), [], "already direct to the introduced address");
}

#[test]
fn a_peer_whose_key_changed_is_blocked_until_trusted() {
    let mut b = Bench::direct();
    b.queue(1, 0, 60_000);
    let reason = "peer 2's key changed".to_owned();
    b.core.key_changed(super::id(2), reason.clone(), b.at(10));
    b.record(10);
    let failed = b.logged(10, |a| match a {
        Action::Record {
            change: Change::Failed { error, .. },
            outcome,
            ..
        } => Some((error.clone(), outcome.code)),
        _ => None,
    });
    assert_eq!(
        failed,
        [(10, (reason.clone(), Some(ErrorKind::KeyChanged)))],
        "the queued message was meant for the old key: it fails now"
    );
    b.run_until(20_000);
    assert_eq!(b.messages(10), [], "nothing goes");
    assert!(matches!(
        b.core.admit(super::id(2), b.at(20_000)),
        crate::peer::core::delivery::Admission::Refused(e) if e.message == reason
    ));
    b.proven(20_001);
    assert_eq!(b.core.paths(b.at(20_001))[0].state, "key changed");
    b.core.trusted(super::id(2), b.at(20_002));
    b.record(20_002);
    assert_eq!(b.lookups(20_002), [], "nothing is waiting for the peer");
    assert!(matches!(
        b.core.admit(super::id(2), b.at(20_003)),
        crate::peer::core::delivery::Admission::Now { problem: None }
    ));
    b.queue(2, 20_004, 60_000);
    assert_eq!(
        b.lookups(20_003),
        [(20_004, false)],
        "a new message looks it up"
    );
    b.found(20_010, false);
    b.proven(20_020);
    assert_eq!(b.messages(20_010), [(20_020, (MsgId(2), direct()))]);
}

#[test]
fn keepalives_hold_a_direct_path_in_use_and_a_silent_one_is_punched_again() {
    let mut b = Bench::direct();
    b.queue(1, 0, 60_000);
    b.acked(1, 0, direct());
    b.run_until(45_000);
    assert_eq!(
        b.probes(1),
        [(15_000, direct()), (30_000, direct())],
        "a PROBE every 15 s"
    );
    assert_eq!(b.lookups(0), [(40_000, false)], "silent for 2 x 15 + 10 s");
    // A path that carries nothing is left alone.
    let mut idle = Bench::direct();
    idle.run_until(200_000);
    assert_eq!(idle.probes(0), []);
    assert_eq!(idle.punches(0), []);
    assert_eq!(idle.lookups(0), []);
}

#[test]
fn a_relayed_path_in_use_tries_every_30_s_to_become_direct() {
    let mut b = Bench::new(RelayPolicy::Auto);
    b.queue(1, 0, 600_000);
    b.found(0, false);
    b.run_until(3_000);
    b.acked(1, 3_010, Route::Relayed);
    b.run_until(33_005);
    assert_eq!(
        b.lookups(1),
        [(33_000, true)],
        "relayed since 3 s, tried at 33 s"
    );
    b.found(33_010, true);
    b.queue(2, 33_100, 600_000);
    assert_eq!(
        b.messages(33_100),
        [(33_100, (MsgId(2), Route::Relayed))],
        "the relay carries messages while the punch runs"
    );
    // A HELLO was answered directly: the transport proves the path.
    b.run_until(33_200);
    b.probed(33_150, 5, true);
    b.proven(33_200);
    assert_eq!(
        b.messages(33_200),
        [(33_200, (MsgId(2), direct()))],
        "direct now: the pending message goes again, direct"
    );
    let info = b.core.paths(b.at(33_300));
    assert_eq!(info[0].state, "direct");
    assert!(info[0].rtt_ms.is_some(), "the probe's round trip");
}
