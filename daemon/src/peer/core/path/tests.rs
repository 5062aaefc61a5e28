//! The path state machine on a fake clock: punching, path proofs,
//! keepalives, re-punching, upgrades, fall-back to relay, waiting,
//! blocking.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::peer::args::RelayPolicy;
use crate::peer::core::timing::{path_silent, upgrade_interval, PUNCH_WINDOW};
use crate::peer::core::transport::Route;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn punching_probes_every_interval_and_goes_direct_where_proven() {
    let now = Instant::now();
    let mut p = PeerPath::default();
    assert!(p.needs_lookup(now));
    p.introduce(addr("10.0.0.1:5"), now, RelayPolicy::Auto);
    assert_eq!(
        p.punch_tick(now, RelayPolicy::Auto),
        PunchTick::Probe(addr("10.0.0.1:5"))
    );
    assert_eq!(
        p.punch_tick(now, RelayPolicy::Auto),
        PunchTick::Nothing,
        "next probe only after the interval"
    );
    // The proof may come from another port (a symmetric NAT): the
    // authenticated source is the path.
    assert!(p.go_direct(addr("10.0.0.1:6"), now));
    assert_eq!(p.route(), Some(Route::Direct(addr("10.0.0.1:6"))));
    // The same introduction again keeps a direct path to the same address.
    p.introduce(addr("10.0.0.1:6"), now, RelayPolicy::Auto);
    assert_eq!(p.route(), Some(Route::Direct(addr("10.0.0.1:6"))));
}

#[test]
fn a_blocked_path_stays_blocked_until_forgotten() {
    let now = Instant::now();
    let mut p = PeerPath::default();
    p.block("key changed".into());
    p.introduce(addr("10.0.0.1:5"), now, RelayPolicy::Auto);
    assert_eq!(p.blocked(), Some("key changed"));
    assert_eq!(p.route(), None);
    assert!(!p.needs_lookup(now));
    p.forget();
    assert!(p.needs_lookup(now));
}

#[test]
fn paths_in_use_are_kept_alive_repunched_and_upgraded() {
    const K: Duration = Duration::from_secs(15);
    let now = Instant::now();
    let mut p = PeerPath::default();
    p.introduce(addr("10.0.0.1:5"), now, RelayPolicy::Auto);
    p.go_direct(addr("10.0.0.1:5"), now);
    p.last_sent = Some(now);
    assert_eq!(
        p.upkeep(now, RelayPolicy::Auto, K),
        Upkeep::Nothing,
        "not in use"
    );
    p.last_used = Some(now);
    assert_eq!(p.upkeep(now, RelayPolicy::Auto, K), Upkeep::Nothing);
    let t = now + K;
    p.last_used = Some(t);
    assert_eq!(
        p.upkeep(t, RelayPolicy::Auto, K),
        Upkeep::Keepalive(addr("10.0.0.1:5"))
    );
    assert_eq!(
        p.upkeep(t, RelayPolicy::Auto, K),
        Upkeep::Nothing,
        "just sent"
    );
    let t = now + path_silent(K);
    p.last_used = Some(t);
    assert_eq!(p.upkeep(t, RelayPolicy::Auto, K), Upkeep::Repunch);
    let mut r = PeerPath::default();
    r.introduce(addr("10.0.0.1:5"), now, RelayPolicy::Auto);
    r.punch_tick(now + PUNCH_WINDOW, RelayPolicy::Auto);
    let t = now + PUNCH_WINDOW + upgrade_interval(K);
    r.last_used = Some(t);
    assert_eq!(r.upkeep(t, RelayPolicy::Auto, K), Upkeep::Upgrade);
    assert_eq!(r.upkeep(t, RelayPolicy::Auto, K), Upkeep::Nothing);
    assert_eq!(
        r.upkeep(t + upgrade_interval(K), RelayPolicy::Always, K),
        Upkeep::Nothing
    );
}

#[test]
fn a_relayed_path_keeps_relaying_while_it_punches_again() {
    let now = Instant::now();
    let mut p = PeerPath::default();
    p.introduce(addr("10.0.0.1:5"), now, RelayPolicy::Auto);
    p.punch_tick(now + PUNCH_WINDOW, RelayPolicy::Auto);
    assert_eq!(p.route(), Some(Route::Relayed));
    let later = now + 2 * PUNCH_WINDOW;
    p.introduce(addr("10.0.0.1:5"), later, RelayPolicy::Auto);
    assert!(matches!(p.state, PathState::Punching { .. }));
    assert_eq!(p.route(), Some(Route::Relayed), "relays while punching");
    p.punch_tick(later + PUNCH_WINDOW, RelayPolicy::Auto);
    assert!(matches!(&p.state, PathState::Relayed { reason } if reason.contains("3 s")));
    p.introduce(addr("10.0.0.1:5"), later, RelayPolicy::Auto);
    assert!(p.go_direct(addr("10.0.0.1:5"), later));
    assert_eq!(p.route(), Some(Route::Direct(addr("10.0.0.1:5"))));
}

#[test]
fn falls_back_to_relay_after_the_window_and_waits_with_backoff() {
    let now = Instant::now();
    let mut p = PeerPath::default();
    p.introduce(addr("10.0.0.1:5"), now, RelayPolicy::Auto);
    assert_eq!(
        p.punch_tick(now + PUNCH_WINDOW, RelayPolicy::Auto),
        PunchTick::TimedOut { waiting: None }
    );
    assert_eq!(p.route(), Some(Route::Relayed));
    assert!(matches!(&p.state, PathState::Relayed { reason } if reason.contains("3 s")));
    let mut q = PeerPath::default();
    q.introduce(addr("10.0.0.1:5"), now, RelayPolicy::Never);
    assert!(matches!(
        q.punch_tick(now + PUNCH_WINDOW, RelayPolicy::Never),
        PunchTick::TimedOut { waiting: Some(_) }
    ));
    assert!(
        matches!(&q.state, PathState::Waiting { reason, .. } if reason.contains("relay disabled"))
    );
    let mut r = PeerPath::default();
    r.introduce(addr("10.0.0.1:5"), now, RelayPolicy::Always);
    assert_eq!(r.route(), Some(Route::Relayed));
    p.wait("peer 2 is offline".into(), now);
    assert!(!p.needs_lookup(now));
    assert!(p.needs_lookup(now + Duration::from_millis(500)));
    p.wait("again".into(), now);
    assert!(!p.needs_lookup(now + Duration::from_millis(500)));
}
