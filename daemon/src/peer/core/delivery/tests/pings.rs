//! `ping`: the round trip of a probe, a ping without answer, a ping to
//! oneself and to a peer never registered.

use peerd_shared::control::{ControlError, ErrorKind, PathKind, PingOutcome};

use super::{id, peer_addr, Bench};
use crate::peer::args::RelayPolicy;
use crate::peer::core::delivery::Action;
use crate::peer::core::registration::LinkError;
use crate::peer::core::transport::Route;

fn pongs(b: &Bench) -> Vec<(u64, Result<PingOutcome, ControlError>)> {
    b.logged(0, |a| match a {
        Action::Pong { result, .. } => Some(result.clone()),
        _ => None,
    })
}

#[test]
fn a_ping_over_a_direct_path_answers_with_the_round_trip() {
    let mut b = Bench::direct();
    b.core.ping(5, id(2), b.at(100));
    b.record(100);
    assert_eq!(b.probes(0), [(100, Route::Direct(peer_addr()))]);
    // Nonces count from 101: this probe's is 101.
    b.probed(130, 101, true);
    let pong = PingOutcome {
        to: id(2),
        path: PathKind::Direct,
        addr: Some(peer_addr().to_string()),
        rtt_ms: 30.0,
    };
    assert_eq!(pongs(&b), [(130, Ok(pong))]);
}

#[test]
fn a_ping_without_answer_says_so_after_2_s() {
    let mut b = Bench::direct();
    b.core.ping(5, id(2), b.at(100));
    b.record(100);
    b.run_until(5_000);
    let probes: Vec<u64> = b.probes(0).into_iter().map(|(ms, _)| ms).collect();
    assert_eq!(probes, [100, 600, 1_100, 1_600], "four probes over 2 s");
    let [(2_100, Err(e))] = &pongs(&b)[..] else {
        panic!("one failed pong at 2100 ms: {:?}", pongs(&b));
    };
    assert_eq!(e.code, ErrorKind::Unreachable);
    assert_eq!(
        e.message,
        "peer 2: no answer within 2000 ms over the current path"
    );
}

#[test]
fn a_ping_to_oneself_or_to_a_peer_never_registered_fails() {
    let mut b = Bench::new(RelayPolicy::Auto);
    b.core.ping(1, id(1), b.at(0));
    b.core.ping(2, id(2), b.at(0));
    b.record(0);
    assert_eq!(b.lookups(0), [(0, false)]);
    b.core
        .looked_up(id(2), Err(LinkError::UnknownPeer(id(2))), false, b.at(5));
    b.record(5);
    let codes: Vec<(u64, ErrorKind)> = pongs(&b)
        .into_iter()
        .map(|(ms, r)| (ms, r.expect_err("fails").code))
        .collect();
    assert_eq!(
        codes,
        [(0, ErrorKind::SelfTarget), (5, ErrorKind::UnknownPeer)]
    );
}
