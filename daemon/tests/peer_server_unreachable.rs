//! While the server is unreachable the daemon keeps running: status says
//! `connecting`, then `offline` with the reason; sends are queued with a
//! note; as soon as the server comes up it registers and delivers.

mod support;

use std::time::Duration;

use peerctl::ClientError;
use peerd_shared::control::{ErrorKind, MsgStatus, RegState};
use support::{poll, poll_for, Daemon, HeldPort, Scratch, Server};

#[test]
fn offline_with_reason_then_registers_when_the_server_comes_up() {
    let tmp = Scratch::new();
    let addr = HeldPort::new().release();
    let db = tmp.path("server.sqlite3");
    let server_flags = ["--keepalive", "1"];
    // b registers while the server is up, then the server goes away. Its
    // port stays held by a silent socket until the server comes back, so
    // no other process on the machine can be given it meanwhile.
    let server = Server::start(&addr.to_string(), &db, &server_flags);
    let b = Daemon::start(server.addr, &tmp.path("b"));
    let idb = b.wait_registered();
    drop(server);
    let held = HeldPort::at(addr);

    let a = Daemon::spawn(addr, &tmp.path("a"), &[]);
    let first = a.wait_ready();
    assert_ne!(first.state, RegState::Registered, "{first:?}");

    let status = poll("state offline", || {
        let st = a.status().ok()?;
        (st.state == RegState::Offline).then_some(st)
    });
    let reason = status.reason.clone().unwrap_or_default();
    assert!(
        reason.contains(&addr.to_string()) && reason.contains("did not answer"),
        "{status:?}"
    );
    assert_eq!(status.server, addr.to_string());

    // Requests that need the server say why they cannot be served; sends queue.
    match a.list() {
        Err(ClientError::Daemon(e)) => assert_eq!(e.code, ErrorKind::NotRegistered, "{e:?}"),
        other => panic!("list while offline answered {other:?}"),
    }
    let r = a.send(idb, "queued while offline", true).expect("send");
    assert_eq!(r.status, MsgStatus::Queued, "{r:?}");
    assert!(
        r.note
            .as_deref()
            .is_some_and(|n| n.contains("not registered") && !n.contains("queued until")),
        "{r:?}"
    );

    // The server comes back on that address: a registers by itself.
    held.release();
    let _server = Server::start(&addr.to_string(), &db, &server_flags);
    let ida = a
        .wait_registered_within(Duration::from_secs(30))
        .unwrap_or_else(|t| panic!("registration after the outage: {t}"));
    assert_ne!(ida, idb);
    poll_for(
        "the queued message to be delivered",
        Duration::from_secs(30),
        || {
            b.texts_from(ida)
                .iter()
                .any(|t| t == "queued while offline")
                .then_some(())
        },
    );
}
