//! Expiry with `--keepalive 1`: a registration not refreshed for 3 x
//! keepalive after its last REGISTER leaves LIST, CONNECT to it answers
//! `peer_offline`, its own requests are `unauthorized`; only REGISTER
//! refreshes, and registering again brings the same id back.

mod support;

use std::time::{Duration, Instant};

use peerd_shared::wire::{ErrorCode, Packet};
use support::*;

#[test]
fn silent_peer_expires_after_three_keepalives_and_refreshing_peer_stays() {
    let server = Server::fresh(&["--keepalive", "1"]);
    let mut a = Peer::join(&server);
    let sent = Instant::now();
    let mut b = Peer::join(&server);
    let mut last_refresh = Instant::now();
    let listed = |a: &mut Peer| match a.call("LIST", "") {
        Packet::ListAck { peers, .. } => peers.iter().map(|p| p.id).collect::<Vec<_>>(),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(listed(&mut a), [b.id]);
    // b sends LIST (not REGISTER): that does not refresh it.
    assert!(matches!(b.call("LIST", ""), Packet::ListAck { .. }));

    let end = Instant::now() + Duration::from_secs(8);
    let offline_at = loop {
        assert!(Instant::now() < end, "b never expired");
        if last_refresh.elapsed() > Duration::from_millis(400) {
            let seq = a.seq();
            assert!(matches!(
                a.client.call(&register_json(seq, &a.token)),
                Packet::RegisterAck { .. }
            ));
            last_refresh = Instant::now();
        }
        match a.call("CONNECT", &format!(r#","target":{}"#, b.id)) {
            Packet::ConnectAck { .. } => {}
            Packet::Error {
                code: ErrorCode::PeerOffline,
                ..
            } => break sent.elapsed(),
            other => panic!("unexpected {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(50)); // probing cadence, not synchronisation
    };
    assert!(
        offline_at >= Duration::from_secs(3),
        "expired after {offline_at:?}, before 3 x keepalive"
    );
    assert!(
        offline_at < Duration::from_secs(5),
        "expired only after {offline_at:?}"
    );
    assert_eq!(listed(&mut a), [], "b left LIST");
    assert!(b.client.drain() > 0, "b was introduced while online");
    assert_eq!(code_of(&b.call("LIST", "")), ErrorCode::Unauthorized);
    server.wait_for_log(&format!("id {} expired", b.id));

    // a, refreshing every 400 ms, is still online; b comes back with its id.
    let again = b.client.call(&register_json(99, &b.token));
    assert!(matches!(again, Packet::RegisterAck { id, keepalive: 1, .. } if id == b.id));
    assert_eq!(listed(&mut a), [b.id]);
    assert!(
        matches!(b.call("LIST", ""), Packet::ListAck { peers, .. } if peers.len() == 1 && peers[0].id == a.id)
    );
}
