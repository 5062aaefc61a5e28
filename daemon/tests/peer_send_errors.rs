//! `send` refusals, each immediate and with a stable code: a never-registered
//! id (`unknown_peer`, asked of the server), a text over the limit
//! (`text_too_long`, naming it), oneself (`self_target`), a zero ttl
//! (`bad_request`). Nothing refused is stored.

mod peer_support;

use std::time::{Duration, Instant};

use peer_support::{Daemon, Lab};
use serde_json::json;

#[test]
fn refused_sends_fail_at_once_with_stable_codes() {
    let lab = Lab::new();
    let server = lab.server();
    let a = Daemon::start(server.addr, &lab.path("a"));
    let ida = a.wait_registered();

    let started = Instant::now();
    let r = a.send(4242, "anyone there?", true);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "unknown_peer at once"
    );
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["error"]["code"], "unknown_peer", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("4242"),
        "{r}"
    );

    let r = a.send(ida + 1, &"x".repeat(1001), false);
    assert_eq!(r["error"]["code"], "text_too_long", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("1000"),
        "{r}"
    );
    let r = a.send(ida + 1, &"\"".repeat(1000), false);
    assert_eq!(r["error"]["code"], "text_too_long", "{r}");

    let r = a.send(ida, "me", false);
    assert_eq!(r["error"]["code"], "self_target", "{r}");

    let r = a.request(&json!({"req": 5, "cmd": "send", "to": 7, "text": "t", "ttl_secs": 0}));
    assert_eq!(r["error"]["code"], "bad_request", "{r}");
    assert_eq!(r["req"], 5, "{r}");

    let out = a.request(&json!({"cmd": "outbox"}));
    assert_eq!(
        out["result"]["messages"],
        json!([]),
        "nothing refused was stored: {out}"
    );
}
