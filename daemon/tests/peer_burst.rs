//! A burst larger than the outbox's window (1024 unacknowledged messages per
//! peer), pipelined on one control connection: every message is stored,
//! answered in order, delivered exactly once, and the extra ones wait their
//! turn instead of overrunning the receiver.

mod peer_support;

use std::collections::HashSet;
use std::time::Duration;

use peer_support::{texts_from, wait_for, Ctl, Daemon, Lab};
use serde_json::json;

const COUNT: usize = 3000;

#[test]
fn pipelined_burst_is_delivered_exactly_once() {
    let lab = Lab::new();
    let server = lab.server();
    let a = Daemon::start(server.addr, &lab.path("a"));
    let b = Daemon::start(server.addr, &lab.path("b"));
    let ida = a.wait_registered();
    let idb = b.wait_registered();

    let mut ctl = Ctl::connect(&a.socket);
    let mut lines = Vec::new();
    for i in 0..COUNT {
        let req = json!({"req": i, "cmd": "send", "to": idb, "text": format!("burst {i}")});
        lines.extend_from_slice(req.to_string().as_bytes());
        lines.push(b'\n');
    }
    ctl.write_raw(&lines);
    let mut msg_ids = HashSet::new();
    for i in 0..COUNT {
        let r = ctl.read();
        assert_eq!(r["req"], i, "replies in request order: {r}");
        assert_eq!(r["ok"], true, "{r}");
        assert!(
            msg_ids.insert(r["result"]["msg"].as_u64().expect("msg id")),
            "unique msg ids"
        );
    }

    wait_for("the whole burst to arrive", Duration::from_secs(60), || {
        (texts_from(&b.inbox(), ida).len() >= COUNT).then_some(())
    });
    let texts = texts_from(&b.inbox(), ida);
    let unique: HashSet<_> = texts.iter().collect();
    assert_eq!(texts.len(), COUNT, "no duplicates");
    assert_eq!(unique.len(), COUNT);
    wait_for(
        "the sender to record every delivery",
        Duration::from_secs(30),
        || {
            let st = a.request(&json!({"cmd": "status"}));
            (st["result"]["outbox_delivered"] == COUNT && st["result"]["outbox_queued"] == 0)
                .then_some(())
        },
    );
}
