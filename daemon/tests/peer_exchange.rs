//! Two daemons exchange messages both ways through the real server: each
//! message lands exactly once in the receiver's inbox, `send --wait` reports
//! the delivery, and the receiver logs it like the original system did.

mod peer_support;

use peer_support::{texts_from, wait_for, Daemon, Lab, DEADLINE};
use serde_json::json;

#[test]
fn two_daemons_exchange_messages_both_ways_exactly_once() {
    let lab = Lab::new();
    let server = lab.server();
    let a = Daemon::start(server.addr, &lab.path("a"));
    let b = Daemon::start(server.addr, &lab.path("b"));
    let ida = a.wait_registered();
    let idb = b.wait_registered();
    assert_ne!(ida, idb);

    // LIST from a shows b with its address.
    let list = a.request(&json!({"cmd": "list"}));
    let peers = list["result"]["peers"].as_array().expect("peers").clone();
    assert!(
        peers.iter().any(|p| p["id"].as_u64() == Some(idb)),
        "{list}"
    );
    assert!(
        peers.iter().all(|p| p["id"].as_u64() != Some(ida)),
        "{list}"
    );

    let first = a.send(idb, &format!("Hello from {ida} to {idb}"), true);
    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(first["result"]["status"], "delivered", "{first}");
    assert_eq!(first["result"]["path"], "direct", "{first}");
    assert!(first["result"]["elapsed_ms"].as_f64().is_some(), "{first}");

    for i in 0..20 {
        let r = a.send(idb, &format!("a{i}"), i % 2 == 0);
        assert_eq!(r["ok"], true, "{r}");
        let r = b.send(ida, &format!("b{i}"), i % 2 == 1);
        assert_eq!(r["ok"], true, "{r}");
    }

    let expect_b: Vec<String> = std::iter::once(format!("Hello from {ida} to {idb}"))
        .chain((0..20).map(|i| format!("a{i}")))
        .collect();
    let expect_a: Vec<String> = (0..20).map(|i| format!("b{i}")).collect();
    wait_for("every message in both inboxes", DEADLINE, || {
        let got_b = texts_from(&b.inbox(), ida);
        let got_a = texts_from(&a.inbox(), idb);
        (got_b.len() >= expect_b.len() && got_a.len() >= expect_a.len()).then_some(())
    });
    let mut got_b = texts_from(&b.inbox(), ida);
    let mut got_a = texts_from(&a.inbox(), idb);
    got_b.sort();
    got_a.sort();
    let mut want_b = expect_b.clone();
    let mut want_a = expect_a.clone();
    want_b.sort();
    want_a.sort();
    assert_eq!(got_b, want_b, "b's inbox holds each message once");
    assert_eq!(got_a, want_a, "a's inbox holds each message once");

    // The sender's outbox shows them delivered.
    let out = a.request(&json!({"cmd": "outbox"}));
    let msgs = out["result"]["messages"]
        .as_array()
        .expect("outbox")
        .clone();
    assert_eq!(msgs.len(), 21, "{out}");
    wait_for(
        "a's outbox to show every message delivered",
        DEADLINE,
        || {
            let out = a.request(&json!({"cmd": "outbox"}));
            let msgs = out["result"]["messages"].as_array()?.clone();
            msgs.iter()
                .all(|m| m["status"] == "delivered")
                .then_some(())
        },
    );

    // The receiver logs each message like the original.
    let want = format!("message from {ida} (127.0.0.1:");
    let line = wait_for("the receive log line", DEADLINE, || {
        b.logs().into_iter().find(|l| l.contains(&want))
    });
    assert!(
        line.ends_with(&format!("): Hello from {ida} to {idb}")),
        "{line}"
    );

    // Status counts agree.
    let st = b.request(&json!({"cmd": "status"}));
    assert_eq!(st["result"]["inbox"], 21, "{st}");
    assert_eq!(st["result"]["state"], "registered", "{st}");
    assert!(st["result"]["public_addr"].as_str().is_some(), "{st}");
}
