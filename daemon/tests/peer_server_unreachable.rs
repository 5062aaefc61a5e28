//! While the server is unreachable the daemon keeps running: status says
//! `connecting`, then `offline` with the reason; sends are queued with a
//! note; as soon as the server comes up it registers and delivers.

mod peer_support;

use std::time::Duration;

use peer_support::{free_udp_addr, texts_from, wait_for, Daemon, Lab, Server, DEADLINE};
use serde_json::json;

#[test]
fn offline_with_reason_then_registers_when_the_server_comes_up() {
    let lab = Lab::new();
    let addr = free_udp_addr();
    let db = lab.path("server.sqlite3");
    let server_flags = ["--keepalive", "1"];
    // b registers while the server is up, then the server goes away.
    let server = Server::start_with(&addr.to_string(), &db, &server_flags);
    let b = Daemon::start(server.addr, &lab.path("b"));
    let idb = b.wait_registered();
    drop(server);

    let a = Daemon::spawn(addr, &lab.path("a"), &[]);
    let first = a.wait_ready();
    assert_eq!(first["ok"], true, "{first}");
    assert_ne!(first["result"]["state"], "registered", "{first}");

    let status = wait_for("state offline", DEADLINE, || {
        let st = a.request(&json!({"cmd": "status"}));
        (st["result"]["state"] == "offline").then_some(st)
    });
    let reason = status["result"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        reason.contains(&addr.to_string()) && reason.contains("did not answer"),
        "{status}"
    );
    assert_eq!(status["result"]["server"], addr.to_string());

    // Requests that need the server say why they cannot be served; sends queue.
    let list = a.request(&json!({"cmd": "list"}));
    assert_eq!(list["error"]["code"], "not_registered", "{list}");
    let r = a.send(idb, "queued while offline", true);
    assert_eq!(r["result"]["status"], "queued", "{r}");
    assert!(
        r["result"]["note"]
            .as_str()
            .unwrap_or_default()
            .contains("queued until"),
        "{r}"
    );

    // The server comes back on that address: a registers by itself.
    let _server = Server::start_with(&addr.to_string(), &db, &server_flags);
    let ida = wait_for(
        "registration after the outage",
        Duration::from_secs(30),
        || {
            let st = a.request(&json!({"cmd": "status"}));
            (st["result"]["state"] == "registered")
                .then(|| st["result"]["id"].as_u64())
                .flatten()
        },
    );
    assert_ne!(ida, idb);
    wait_for(
        "the queued message to be delivered",
        Duration::from_secs(30),
        || {
            texts_from(&b.inbox(), ida)
                .iter()
                .any(|t| t == "queued while offline")
                .then_some(())
        },
    );
}
