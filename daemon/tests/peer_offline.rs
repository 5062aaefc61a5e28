//! An offline peer's message stays queued (and `send` says so, with or
//! without `wait`) until the peer comes online, then it is delivered.

mod support;

use peerd_shared::control::{Command, MsgStatus, Response};
use support::{poll, Daemon, Scratch};

#[test]
fn offline_peer_receives_its_queued_message_when_it_comes_online() {
    let tmp = Scratch::new();
    let server = tmp.server_with(&["--keepalive", "1"]);
    let a = Daemon::start(server.addr, &tmp.path("a"));
    let mut b = Daemon::start(server.addr, &tmp.path("b"));
    let ida = a.wait_registered();
    let idb = b.wait_registered();

    // b leaves (UNREGISTER, the original's EXIT) and exits.
    let stop = b.request(Command::Stop);
    assert_eq!(stop.ok(), Some(Response::Stopping));
    assert!(b.wait_exit().success());
    assert!(!b.socket.exists(), "the socket file is removed on stop");

    for (text, wait) in [("while you were away", true), ("second", false)] {
        let r = a.send(idb, text, wait).expect("send");
        assert_eq!(r.status, MsgStatus::Queued, "{r:?}");
        // Why it waits, in one clause; until when is `expires_ms`.
        assert_eq!(
            r.note.as_deref(),
            Some(format!("peer {idb} is offline").as_str()),
            "{r:?}"
        );
    }
    let msgs = a.outbox().expect("outbox");
    assert!(
        msgs.iter().all(|m| m.status == MsgStatus::Queued),
        "{msgs:?}"
    );
    assert!(
        msgs.iter().all(|m| m
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("offline"))),
        "{msgs:?}"
    );
    let st = a.status().expect("status");
    assert_eq!(st.outbox_queued, 2, "{st:?}");

    let b = Daemon::start(server.addr, &tmp.path("b"));
    assert_eq!(b.wait_registered(), idb);
    poll("the queued messages to arrive", || {
        (b.texts_from(ida).len() >= 2).then_some(())
    });
    assert_eq!(b.texts_from(ida), ["while you were away", "second"]);
    poll("the outbox to show them delivered", || {
        let st = a.status().ok()?;
        (st.outbox_delivered == 2 && st.outbox_queued == 0).then_some(())
    });
}

#[test]
fn a_message_that_outlives_its_ttl_fails_with_the_last_error() {
    let tmp = Scratch::new();
    let server = tmp.server_with(&["--keepalive", "1"]);
    let a = Daemon::start(server.addr, &tmp.path("a"));
    let mut b = Daemon::start(server.addr, &tmp.path("b"));
    a.wait_registered();
    let idb = b.wait_registered();
    b.stop();

    let r = a
        .send_ttl(idb, "short-lived", Some(1), false)
        .expect("send");
    assert_eq!(r.status, MsgStatus::Queued, "{r:?}");
    let entry = poll("the message to fail", || {
        let m = a.outbox().ok()?.first()?.clone();
        (m.status == MsgStatus::Failed).then_some(m)
    });
    let error = entry.last_error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("expired at ") && error.contains("offline"),
        "{entry:?}"
    );
    let st = a.status().expect("status");
    assert_eq!(st.outbox_failed, 1, "{st:?}");
    assert_eq!(st.outbox_queued, 0, "{st:?}");
}
