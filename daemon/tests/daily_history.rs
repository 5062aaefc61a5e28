//! The stored history, served by the real daemon: `since_ms` on `inbox`,
//! `outbox` and `follow`; `inbox delete` and `prune`, the same for the
//! outbox (a deleted queued message is never sent, and a `send` waiting
//! for it fails); and the retention of the config file, applied at start
//! and then periodically.

mod support;

use peerd_shared::control::MsgStatus;
use serde_json::Value;
use support::{peer, poll, Launch, Net, RawCtl, Scratch};

fn texts(reply: &Value) -> Vec<String> {
    reply["result"]["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages in {reply}"))
        .iter()
        .map(|m| m["text"].as_str().expect("text").to_owned())
        .collect()
}

#[test]
fn inbox_since_follow_since_delete_and_prune() {
    let net = Net::start(2);
    let (d1, d2) = (&net.daemons[0], &net.daemons[1]);
    for text in ["one", "two", "three"] {
        d1.send(peer(2), text, true).expect("send");
    }
    let inbox = d2.inbox(None).expect("inbox");
    let since = inbox[1].received_ms;

    let mut raw = RawCtl::connect(&d2.socket);
    let reply = raw.request(&format!(r#"{{"req":1,"cmd":"inbox","since_ms":{since}}}"#));
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(texts(&reply), ["two", "three"]);
    let reply = raw.request(&format!(
        r#"{{"req":2,"cmd":"inbox","since_ms":{since},"limit":1}}"#
    ));
    assert_eq!(texts(&reply), ["three"]);

    let mut follow = RawCtl::connect(&d2.socket);
    let reply = follow.request(&format!(r#"{{"cmd":"follow","since_ms":{since}}}"#));
    assert_eq!(reply["result"]["kind"], "follow", "{reply}");
    for text in ["two", "three"] {
        let event = follow.read();
        assert_eq!(event["message"]["text"], text, "{event}");
    }
    assert_eq!(follow.read()["event"], "live");

    // delete FROM:MSG, then prune.
    let one = format!("1:{}", inbox[0].msg.0);
    let out = d2.peerctl(&["inbox", "delete", &one]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("deleted 1 received message"), "{out:?}");
    let out = d2.peerctl(&["--json", "inbox", "delete", &one]).json();
    assert_eq!(out["deleted"], 0, "{out}");
    assert_eq!(d2.texts_from(peer(1)), ["two", "three"]);
    let out = d2.peerctl(&["inbox", "prune", "--older-than", "0s"]);
    assert!(out.stdout.contains("pruned 2 received messages"), "{out:?}");
    assert!(d2.inbox(None).expect("inbox").is_empty());

    // New messages are stored as before.
    d1.send(peer(2), "four", true).expect("send");
    assert_eq!(d2.texts_from(peer(1)), ["four"]);
    let event = follow.read();
    assert_eq!(event["message"]["text"], "four", "the follower saw it live");
}

#[test]
fn outbox_since_delete_and_prune() {
    let net = Net::start(3);
    let [d1, d2, d3] = &net.daemons[..] else {
        unreachable!("three daemons")
    };
    let delivered = d1.send(peer(3), "delivered", true).expect("send");
    assert_eq!(delivered.status, MsgStatus::Delivered);

    // Peer 2 is frozen: registered, but it answers nothing. A send that
    // waits for it fails when its message is deleted.
    d2.signal(libc::SIGSTOP);
    let mut waiting = d1.peerctl_spawn(&["send", "2", "never delivered"]);
    let msg = poll("the waiting message in the outbox", || {
        d1.outbox()
            .ok()?
            .into_iter()
            .find(|m| m.text == "never delivered")
    });
    assert_eq!(msg.status, MsgStatus::Queued);

    let mut raw = RawCtl::connect(&d1.socket);
    let reply = raw.request(&format!(
        r#"{{"cmd":"outbox","since_ms":{}}}"#,
        msg.created_ms
    ));
    assert_eq!(texts(&reply), ["never delivered"]);

    let out = d1.peerctl(&["outbox", "delete", &msg.msg.0.to_string()]);
    assert!(out.stdout.contains("deleted 1 sent message"), "{out:?}");
    let status = waiting.wait();
    let said = waiting.output_tail(5);
    assert_eq!(status.code(), Some(1), "{said}");
    assert!(
        said.contains("deleted from the outbox before it was delivered"),
        "{said}"
    );

    // Peer 2 wakes up: the deleted message never reaches it.
    d2.signal(libc::SIGCONT);
    d1.send(peer(2), "after the delete", true).expect("send");
    assert_eq!(d2.texts_from(peer(1)), ["after the delete"]);

    // prune: delivered and failed ones go, a queued one stays.
    d3.signal(libc::SIGSTOP);
    let queued = d1.send(peer(3), "stays queued", false).expect("send");
    let out = d1.peerctl(&["outbox", "prune", "--older-than", "0s"]);
    assert!(out.stdout.contains("pruned 2 sent messages"), "{out:?}");
    let left: Vec<_> = d1
        .outbox()
        .expect("outbox")
        .into_iter()
        .map(|m| m.msg)
        .collect();
    assert_eq!(left, [queued.msg]);
    d3.signal(libc::SIGCONT);
}

#[test]
fn retention_of_the_config_file_applies_at_start_and_then_periodically() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let a = Launch::new(server.addr, &tmp.path("a"));
    std::fs::write(a.config(), "outbox_retention = \"2s\"\n").expect("config");
    let a = a.start();
    let mut b = Launch::new(server.addr, &tmp.path("b")).start();
    let idb = b.wait_registered();
    a.send(idb, "kept for a while", true).expect("send");
    let received = b.inbox(None).expect("inbox")[0].received_ms;

    // Periodically: a's delivered message goes within the deadline.
    poll("a's outbox to be emptied by its retention", || {
        a.outbox().ok()?.is_empty().then_some(())
    });
    poll("the removal in a's log", || {
        a.logs()
            .iter()
            .any(|l| l.contains("retention: removed 0 received and 1 sent messages"))
            .then_some(())
    });

    // At start: b, restarted with a retention its message is past, has
    // removed it before it answers anything.
    assert!(b.stop().success());
    poll("the message to be older than 2 s", || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_millis();
        (now > u128::from(received) + 2_000).then_some(())
    });
    let b = Launch::new(server.addr, &tmp.path("b"));
    std::fs::write(b.config(), "inbox_retention = \"2s\"\n").expect("config");
    let b = b.spawn();
    b.wait_ready();
    assert_eq!(b.inbox(None).expect("inbox"), []);
}
