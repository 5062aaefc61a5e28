//! Durability: the receiving daemon is killed with SIGKILL in the middle of
//! 200 messages; after it restarts on the same data dir every message is in
//! its inbox exactly once, and the sender's outbox shows all delivered.

mod peer_support;

use std::collections::HashMap;
use std::time::Duration;

use peer_support::{texts_from, wait_for, Ctl, Daemon, Lab, DEADLINE};
use serde_json::json;

const COUNT: usize = 200;

#[test]
fn kill_9_of_the_receiver_loses_and_duplicates_nothing() {
    let lab = Lab::new();
    let server = lab.server();
    let a = Daemon::start(server.addr, &lab.path("a"));
    let mut b = Daemon::start(server.addr, &lab.path("b"));
    let ida = a.wait_registered();
    let idb = b.wait_registered();

    // The sender queues 200 messages, paced, on one control connection.
    let socket = a.socket.clone();
    let sender = std::thread::spawn(move || {
        let mut ctl = Ctl::connect(&socket);
        for i in 0..COUNT {
            let r = ctl.request(&json!({"cmd": "send", "to": idb, "text": format!("m{i}")}));
            assert_eq!(r["ok"], true, "{r}");
            std::thread::sleep(Duration::from_millis(5));
        }
    });

    let seen = wait_for("some messages to arrive", DEADLINE, || {
        let n = texts_from(&b.inbox(), ida).len();
        (n >= 30).then_some(n)
    });
    b.kill9();
    assert!(
        seen < COUNT,
        "killed in the middle ({seen} of {COUNT} received)"
    );
    sender.join().expect("sender thread");

    let b = Daemon::start(server.addr, &lab.path("b"));
    assert_eq!(b.wait_registered(), idb);
    wait_for(
        "all messages after the restart",
        Duration::from_secs(60),
        || (texts_from(&b.inbox(), ida).len() >= COUNT).then_some(()),
    );
    let texts = texts_from(&b.inbox(), ida);
    let mut counts: HashMap<String, usize> = HashMap::new();
    for t in &texts {
        *counts.entry(t.clone()).or_default() += 1;
    }
    assert_eq!(texts.len(), COUNT, "no duplicates");
    for i in 0..COUNT {
        assert_eq!(counts.get(&format!("m{i}")), Some(&1), "m{i} exactly once");
    }
    wait_for(
        "the sender's outbox to show every message delivered",
        DEADLINE,
        || {
            let out = a.request(&json!({"cmd": "outbox"}));
            let msgs = out["result"]["messages"].as_array()?.clone();
            (msgs.len() == COUNT && msgs.iter().all(|m| m["status"] == "delivered")).then_some(())
        },
    );
}

#[test]
fn kill_9_of_the_sender_resumes_its_outbox_after_restart() {
    let lab = Lab::new();
    let server = lab.server();
    let mut a = Daemon::start(server.addr, &lab.path("a"));
    let b = Daemon::start(server.addr, &lab.path("b"));
    let ida = a.wait_registered();
    let idb = b.wait_registered();
    // b goes away, so a's messages stay queued in its outbox.
    let stop = b.request(&json!({"cmd": "stop"}));
    assert_eq!(stop["ok"], true, "{stop}");
    drop(b);

    let mut ctl = Ctl::connect(&a.socket);
    let mut acknowledged = Vec::new();
    for i in 0..50 {
        let r = ctl.request(&json!({"cmd": "send", "to": idb, "text": format!("q{i}")}));
        assert_eq!(r["result"]["status"], "queued", "{r}");
        acknowledged.push(format!("q{i}"));
    }
    a.kill9();

    let a = Daemon::start(server.addr, &lab.path("a"));
    assert_eq!(a.wait_registered(), ida);
    let st = a.request(&json!({"cmd": "status"}));
    assert_eq!(
        st["result"]["outbox_queued"], 50,
        "every stored message survived: {st}"
    );
    let b = Daemon::start(server.addr, &lab.path("b"));
    assert_eq!(b.wait_registered(), idb);
    wait_for(
        "the resumed messages to arrive",
        Duration::from_secs(60),
        || (texts_from(&b.inbox(), ida).len() >= acknowledged.len()).then_some(()),
    );
    let mut texts = texts_from(&b.inbox(), ida);
    texts.sort();
    acknowledged.sort();
    assert_eq!(texts, acknowledged, "each once");
}
