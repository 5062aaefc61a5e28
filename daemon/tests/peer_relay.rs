//! The RELAY path: a daemon started with `--relay always` never punches and
//! sends through the server; the receiver stores the message once with path
//! `relayed` and the server's address, and its MESSAGE_ACK travels back
//! through the server too.

mod peer_support;

use peer_support::{texts_from, wait_for, Daemon, Lab, Server, DEADLINE};
use serde_json::json;

/// A server, daemon `a` started with `--relay always` and a plain daemon
/// `b`, both registered. Fields drop in order: daemons before the server,
/// the temporary directory last.
struct RelayPair {
    a: Daemon,
    b: Daemon,
    ida: u64,
    idb: u64,
    server: Server,
    _lab: Lab,
}

impl RelayPair {
    fn start() -> Self {
        let lab = Lab::new();
        let server = lab.server();
        let a = Daemon::spawn(server.addr, &lab.path("a"), &["--relay", "always"]);
        a.wait_ready();
        let b = Daemon::start(server.addr, &lab.path("b"));
        let ida = a.wait_registered();
        let idb = b.wait_registered();
        Self {
            a,
            b,
            ida,
            idb,
            server,
            _lab: lab,
        }
    }
}

#[test]
fn relayed_messages_are_delivered_once_and_acknowledged() {
    let p = RelayPair::start();

    for i in 0..5 {
        let r = p.a.send(p.idb, &format!("relayed {i}"), true);
        assert_eq!(r["result"]["status"], "delivered", "{r}");
        assert_eq!(r["result"]["path"], "relayed", "{r}");
    }
    let inbox = p.b.inbox();
    let from_a: Vec<_> = inbox.iter().filter(|m| m["from"] == p.ida).collect();
    assert_eq!(from_a.len(), 5, "{inbox:?}");
    for m in &from_a {
        assert_eq!(m["path"], "relayed", "{m}");
        assert_eq!(m["addr"], p.server.addr.to_string(), "{m}");
    }
    let out = p.a.request(&json!({"cmd": "outbox"}));
    let msgs = out["result"]["messages"]
        .as_array()
        .expect("outbox")
        .clone();
    wait_for("the outbox to record the relayed path", DEADLINE, || {
        let out = p.a.request(&json!({"cmd": "outbox"}));
        let msgs = out["result"]["messages"].as_array()?.clone();
        msgs.iter()
            .all(|m| m["status"] == "delivered" && m["path"] == "relayed")
            .then_some(())
    });
    assert_eq!(msgs.len(), 5);
    assert!(
        p.server.logs().iter().any(|l| l.contains("RELAY")),
        "the server relayed"
    );
}

/// A text within the limits can fit a MESSAGE but not the RELAY around it
/// (1000 bytes, 40 of them quotes that JSON escapes: a 1117-byte MESSAGE, a
/// RELAY of over 1200): on a relayed path the sender fails that message at
/// once with a clear reason (instead of retrying until its expiry), and the
/// peer's other messages still go.
#[test]
fn a_text_too_long_to_relay_fails_at_once_and_others_still_go() {
    let p = RelayPair::start();

    let long = format!("{}{}", "y".repeat(960), "\"".repeat(40));
    assert_eq!(long.len(), 1000);
    let r = p.a.send(p.idb, &long, true);
    assert_eq!(r["ok"], false, "{r}");
    let why = r["error"]["message"].as_str().unwrap_or_default();
    assert!(why.contains("too long to relay"), "{r}");

    let r = p.a.send(p.idb, "short enough", true);
    assert_eq!(r["result"]["status"], "delivered", "{r}");
    assert_eq!(r["result"]["path"], "relayed", "{r}");

    let out = p.a.request(&json!({"cmd": "outbox"}));
    let msgs = out["result"]["messages"]
        .as_array()
        .expect("outbox")
        .clone();
    let failed: Vec<_> = msgs.iter().filter(|m| m["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{out}");
    assert_eq!(failed[0]["text"], long.as_str());
    let err = failed[0]["last_error"].as_str().unwrap_or_default();
    assert!(err.contains("too long to relay"), "{out}");
    assert_eq!(
        texts_from(&p.b.inbox(), p.ida),
        vec!["short enough".to_owned()]
    );
}
