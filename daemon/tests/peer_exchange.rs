//! Two daemons exchange messages both ways through the real server: each
//! message lands exactly once in the receiver's inbox, `send --wait` reports
//! the delivery, and the receiver logs it like the original system did.

mod support;

use peerd_shared::control::{MsgStatus, PathKind, RegState};
use support::{poll, Daemon, Scratch};

#[test]
fn two_daemons_exchange_messages_both_ways_exactly_once() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let a = Daemon::start(server.addr, &tmp.path("a"));
    let b = Daemon::start(server.addr, &tmp.path("b"));
    let ida = a.wait_registered();
    let idb = b.wait_registered();
    assert_ne!(ida, idb);

    // LIST from a shows b with its address.
    let peers = a.list().expect("list");
    assert!(peers.iter().any(|p| p.id == idb), "{peers:?}");
    assert!(peers.iter().all(|p| p.id != ida), "{peers:?}");

    let first = a
        .send(idb, &format!("Hello from {ida} to {idb}"), true)
        .expect("first send");
    assert_eq!(first.status, MsgStatus::Delivered, "{first:?}");
    assert_eq!(first.path, Some(PathKind::Direct), "{first:?}");
    assert!(first.elapsed_ms.is_some(), "{first:?}");

    for i in 0..20 {
        a.send(idb, &format!("a{i}"), i % 2 == 0)
            .expect("send a -> b");
        b.send(ida, &format!("b{i}"), i % 2 == 1)
            .expect("send b -> a");
    }

    let expect_b: Vec<String> = std::iter::once(format!("Hello from {ida} to {idb}"))
        .chain((0..20).map(|i| format!("a{i}")))
        .collect();
    let expect_a: Vec<String> = (0..20).map(|i| format!("b{i}")).collect();
    poll("every message in both inboxes", || {
        let got_b = b.texts_from(ida);
        let got_a = a.texts_from(idb);
        (got_b.len() >= expect_b.len() && got_a.len() >= expect_a.len()).then_some(())
    });
    let mut got_b = b.texts_from(ida);
    let mut got_a = a.texts_from(idb);
    got_b.sort();
    got_a.sort();
    let mut want_b = expect_b.clone();
    let mut want_a = expect_a.clone();
    want_b.sort();
    want_a.sort();
    assert_eq!(got_b, want_b, "b's inbox holds each message once");
    assert_eq!(got_a, want_a, "a's inbox holds each message once");

    // The sender's outbox shows them delivered.
    let msgs = a.outbox().expect("outbox");
    assert_eq!(msgs.len(), 21, "{msgs:?}");
    poll("a's outbox to show every message delivered", || {
        let msgs = a.outbox().ok()?;
        msgs.iter()
            .all(|m| m.status == MsgStatus::Delivered)
            .then_some(())
    });

    // The receiver logs each message like the original.
    let want = format!("message from {ida} (127.0.0.1:");
    let line = poll("the receive log line", || {
        b.logs().into_iter().find(|l| l.contains(&want))
    });
    assert!(
        line.ends_with(&format!("): Hello from {ida} to {idb}")),
        "{line}"
    );

    // Status counts agree.
    let st = b.status().expect("status");
    assert_eq!(st.inbox, 21, "{st:?}");
    assert_eq!(st.state, RegState::Registered, "{st:?}");
    assert!(st.public_addr.is_some(), "{st:?}");
}
