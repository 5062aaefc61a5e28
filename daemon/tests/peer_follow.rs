//! `follow`: the reply `following`, the replay of stored messages (with
//! `from`/`limit`), `live`, then every new message as it arrives.

mod peer_support;

use peer_support::{Ctl, Daemon, Lab};
use serde_json::json;

#[test]
fn follower_sees_replay_then_messages_sent_after_it_started() {
    let lab = Lab::new();
    let server = lab.server();
    let a = Daemon::start(server.addr, &lab.path("a"));
    let b = Daemon::start(server.addr, &lab.path("b"));
    let _ida = a.wait_registered();
    let idb = b.wait_registered();

    for text in ["old 1", "old 2", "old 3"] {
        let r = a.send(idb, text, true);
        assert_eq!(r["result"]["status"], "delivered", "{r}");
    }

    let mut follower = Ctl::connect(&b.socket);
    let reply = follower.request(&json!({"req": 7, "cmd": "follow", "limit": 2}));
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["req"], 7, "{reply}");
    assert_eq!(reply["result"]["kind"], "follow", "{reply}");
    let replay: Vec<_> = (0..2).map(|_| follower.read()).collect();
    assert_eq!(replay[0]["event"], "message");
    assert_eq!(replay[0]["message"]["text"], "old 2");
    assert_eq!(replay[1]["message"]["text"], "old 3");
    assert_eq!(follower.read()["event"], "live");

    let r = a.send(idb, "new one", false);
    assert_eq!(r["ok"], true, "{r}");
    let ev = follower.read();
    assert_eq!(ev["event"], "message", "{ev}");
    assert_eq!(ev["message"]["text"], "new one", "{ev}");
    assert_eq!(ev["message"]["path"], "direct", "{ev}");
    assert!(ev["message"]["addr"]
        .as_str()
        .is_some_and(|s| s.starts_with("127.0.0.1:")));

    // A second follower filtered on another sender sees nothing of a's.
    let mut other = Ctl::connect(&b.socket);
    let reply = other.request(&json!({"cmd": "follow", "from": 999}));
    assert_eq!(reply["result"]["kind"], "follow", "{reply}");
    assert_eq!(other.read()["event"], "live");

    // Stopping the daemon ends the stream with `closing`.
    let stop = b.request(&json!({"cmd": "stop"}));
    assert_eq!(stop["result"]["kind"], "stop", "{stop}");
    assert_eq!(follower.read()["event"], "closing");
    assert_eq!(other.read()["event"], "closing");
}
