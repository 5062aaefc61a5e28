//! One shutdown path: SIGTERM, SIGINT and `stop` all unregister from the
//! server first (the peer leaves LIST at once), then exit 0 and remove the
//! control socket.

mod peer_support;

use peer_support::{Daemon, Lab};
use serde_json::json;

fn listed(d: &Daemon, id: u64) -> bool {
    let r = d.request(&json!({"cmd": "list"}));
    r["result"]["peers"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["id"].as_u64() == Some(id)))
}

#[test]
fn signals_and_stop_unregister_then_exit_cleanly() {
    let lab = Lab::new();
    let server = lab.server();
    let a = Daemon::start(server.addr, &lab.path("a"));
    a.wait_registered();
    for (name, signal) in [
        ("b", Some(libc::SIGTERM)),
        ("c", Some(libc::SIGINT)),
        ("d", None),
    ] {
        let mut peer = Daemon::start(server.addr, &lab.path(name));
        let id = peer.wait_registered();
        assert!(listed(&a, id), "{name} is listed while running");
        match signal {
            Some(sig) => peer.signal(sig),
            None => {
                let r = peer.request(&json!({"cmd": "stop"}));
                assert_eq!(r["result"]["kind"], "stop", "{r}");
            }
        }
        let status = peer.wait_exit();
        assert!(status.success(), "{name} exits 0: {status}");
        assert!(!peer.socket.exists(), "{name} removed its socket");
        assert!(!listed(&a, id), "{name} unregistered before exiting");
    }
}
