//! One shutdown path: SIGTERM, SIGINT and `stop` all unregister from the
//! server first (the peer leaves LIST at once), then exit 0 and remove the
//! control socket.

mod support;

use peerd_shared::control::{Command, Response};
use peerd_shared::PeerId;
use support::{Daemon, Scratch};

fn listed(d: &Daemon, id: PeerId) -> bool {
    d.list().expect("list").iter().any(|p| p.id == id)
}

#[test]
fn signals_and_stop_unregister_then_exit_cleanly() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let a = Daemon::start(server.addr, &tmp.path("a"));
    for (name, signal) in [
        ("b", Some(libc::SIGTERM)),
        ("c", Some(libc::SIGINT)),
        ("d", None),
    ] {
        let mut peer = Daemon::start(server.addr, &tmp.path(name));
        let id = peer.wait_registered();
        assert!(listed(&a, id), "{name} is listed while running");
        match signal {
            Some(sig) => peer.signal(sig),
            None => {
                let r = peer.request(Command::Stop);
                assert_eq!(r.ok(), Some(Response::Stopping));
            }
        }
        let status = peer.wait_exit();
        assert!(status.success(), "{name} exits 0: {status}");
        assert!(!peer.socket.exists(), "{name} removed its socket");
        assert!(!listed(&a, id), "{name} unregistered before exiting");
    }
}
