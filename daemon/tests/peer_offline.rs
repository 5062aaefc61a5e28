//! An offline peer's message stays queued (and `send` says so, with or
//! without `wait`) until the peer comes online, then it is delivered.

mod peer_support;

use peer_support::{texts_from, wait_for, Daemon, Lab, DEADLINE};
use serde_json::json;

#[test]
fn offline_peer_receives_its_queued_message_when_it_comes_online() {
    let lab = Lab::new();
    let server = lab.server_keepalive(1);
    let a = Daemon::start(server.addr, &lab.path("a"));
    let mut b = Daemon::start(server.addr, &lab.path("b"));
    let ida = a.wait_registered();
    let idb = b.wait_registered();

    // b leaves (UNREGISTER, the original's EXIT) and exits.
    let stop = b.request(&json!({"cmd": "stop"}));
    assert_eq!(stop["result"]["kind"], "stop", "{stop}");
    assert!(b.wait_exit().success());
    assert!(!b.socket.exists(), "the socket file is removed on stop");

    for (text, wait) in [("while you were away", true), ("second", false)] {
        let r = a.send(idb, text, wait);
        assert_eq!(r["ok"], true, "{r}");
        assert_eq!(r["result"]["status"], "queued", "{r}");
        let note = r["result"]["note"].as_str().unwrap_or_default();
        assert!(
            note.starts_with(&format!("peer {idb} is offline; queued until ")),
            "{r}"
        );
    }
    let out = a.request(&json!({"cmd": "outbox"}));
    let msgs = out["result"]["messages"]
        .as_array()
        .expect("outbox")
        .clone();
    assert!(msgs.iter().all(|m| m["status"] == "queued"), "{out}");
    assert!(
        msgs.iter().all(|m| m["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("offline"))),
        "{out}"
    );
    let st = a.request(&json!({"cmd": "status"}));
    assert_eq!(st["result"]["outbox_queued"], 2, "{st}");

    let b = Daemon::start(server.addr, &lab.path("b"));
    assert_eq!(b.wait_registered(), idb);
    wait_for("the queued messages to arrive", DEADLINE, || {
        (texts_from(&b.inbox(), ida).len() >= 2).then_some(())
    });
    assert_eq!(
        texts_from(&b.inbox(), ida),
        ["while you were away", "second"]
    );
    wait_for("the outbox to show them delivered", DEADLINE, || {
        let st = a.request(&json!({"cmd": "status"}));
        (st["result"]["outbox_delivered"] == 2 && st["result"]["outbox_queued"] == 0).then_some(())
    });
}

#[test]
fn a_message_that_outlives_its_ttl_fails_with_the_last_error() {
    let lab = Lab::new();
    let server = lab.server_keepalive(1);
    let a = Daemon::start(server.addr, &lab.path("a"));
    let mut b = Daemon::start(server.addr, &lab.path("b"));
    a.wait_registered();
    let idb = b.wait_registered();
    let stop = b.request(&json!({"cmd": "stop"}));
    assert_eq!(stop["ok"], true, "{stop}");
    b.wait_exit();

    let r = a.request(&json!({"cmd": "send", "to": idb, "text": "short-lived", "ttl_secs": 1}));
    assert_eq!(r["result"]["status"], "queued", "{r}");
    let entry = wait_for("the message to fail", DEADLINE, || {
        let out = a.request(&json!({"cmd": "outbox"}));
        let m = out["result"]["messages"].as_array()?.first()?.clone();
        (m["status"] == "failed").then_some(m)
    });
    let error = entry["last_error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("expired at ") && error.contains("offline"),
        "{entry}"
    );
    let st = a.request(&json!({"cmd": "status"}));
    assert_eq!(st["result"]["outbox_failed"], 1, "{st}");
    assert_eq!(st["result"]["outbox_queued"], 0, "{st}");
}
