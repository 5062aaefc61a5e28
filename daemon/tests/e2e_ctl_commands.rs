//! End to end: every `peerctl` command against a real server and real
//! daemons, in human form and with `--json`, including the daemon's errors.

mod support;

use peerd_shared::control::{Command, ErrorKind};
use support::{peer, poll, Net};

#[test]
fn id_status_and_list() {
    let net = Net::start(3);
    let [d1, d2, d3] = &net.daemons[..] else {
        unreachable!("three daemons")
    };
    assert_eq!(d1.peerctl(&["id"]).ok(), "1\n");
    assert_eq!(d2.peerctl(&["id"]).ok(), "2\n");
    assert_eq!(d3.peerctl(&["id"]).ok(), "3\n");
    let id = d1.peerctl(&["--json", "id"]).json();
    assert_eq!(
        (id["kind"].as_str(), id["id"].as_u64()),
        (Some("id"), Some(1))
    );
    let key = id["key"].as_str().expect("the own key");
    assert_eq!(key.len(), 44, "{id}");
    let print = id["fingerprint"].as_str().expect("the own fingerprint");
    assert_eq!(print.len(), 39, "eight groups of four hex digits: {id}");
    assert!(d1.peerctl(&["id"]).ok().lines().count() == 1);

    let status = d2.peerctl(&["status"]).ok();
    assert!(
        status.contains("id:") && status.contains(" 2\n"),
        "{status}"
    );
    assert!(status.contains("registered"), "{status}");
    assert!(status.contains(&net.server.addr.to_string()), "{status}");
    let s = d2.peerctl(&["status", "--json"]).json();
    assert_eq!(s["kind"], "status");
    assert_eq!(s["id"], 2);
    assert_eq!(s["state"], "registered");
    assert_eq!(s["server"], net.server.addr.to_string());
    for field in ["local_addr", "uptime_secs", "inbox", "outbox_queued"] {
        assert!(!s[field].is_null(), "status lacks {field}: {s}");
    }

    let list = d1.peerctl(&["list"]).ok();
    let rows: Vec<&str> = list.lines().collect();
    assert!(
        rows[0].starts_with("ID") && rows[0].contains("ADDRESS"),
        "{list}"
    );
    let ids: Vec<&str> = rows[1..]
        .iter()
        .filter_map(|r| r.split_whitespace().next())
        .collect();
    assert_eq!(ids, ["2", "3"], "{list}");
    assert!(rows[1].contains("127.0.0.1:"), "{list}");
    let l = d3.peerctl(&["--json", "list"]).json();
    assert_eq!(l["kind"], "list");
    let ids: Vec<u64> = l["peers"]
        .as_array()
        .expect("peers array")
        .iter()
        .filter_map(|p| p["id"].as_u64())
        .collect();
    assert_eq!(ids, [1, 2]);
    assert!(l["peers"][0]["addr"]
        .as_str()
        .is_some_and(|a| a.starts_with("127.0.0.1:")));
}

#[test]
fn send_inbox_and_outbox() {
    let net = Net::start(3);
    let [d1, d2, d3] = &net.daemons[..] else {
        unreachable!("three daemons")
    };
    // Words are joined with single spaces; the default waits for delivery.
    let out = d1
        .peerctl(&["send", "3", "Hello", "from", "1", "to", "3"])
        .ok();
    assert!(
        out.starts_with("delivered to 3 (direct, ") && out.ends_with(" ms)\n"),
        "{out}"
    );
    let sent = d2
        .peerctl(&["--json", "send", "1", "Hello from 2 to 1"])
        .json();
    assert_eq!(sent["kind"], "send");
    assert_eq!(sent["to"], 1);
    assert_eq!(sent["status"], "delivered");
    assert_eq!(sent["path"], "direct");
    assert!(
        sent["msg"].is_u64() && sent["elapsed_ms"].is_number(),
        "{sent}"
    );

    let inbox = d3.peerctl(&["inbox"]).ok();
    let rows: Vec<&str> = inbox.lines().collect();
    assert!(
        rows[0].starts_with("FROM") && rows[0].contains("TEXT"),
        "{inbox}"
    );
    assert_eq!(rows.len(), 2, "{inbox}");
    assert!(rows[1].starts_with("1 ") && rows[1].ends_with("Hello from 1 to 3"));
    assert!(rows[1].contains("127.0.0.1:"), "{inbox}");
    let i = d1.peerctl(&["inbox", "--json"]).json();
    assert_eq!(i["kind"], "inbox");
    let m = &i["messages"][0];
    assert_eq!(
        (m["from"].as_u64(), m["text"].as_str()),
        (Some(2), Some("Hello from 2 to 1"))
    );
    assert!(m["addr"].is_string() && m["received_ms"].is_u64() && m["msg"].is_u64());

    // --no-wait returns once queued; the message still arrives.
    let queued = d2
        .peerctl(&["--json", "send", "--no-wait", "3", "second"])
        .json();
    assert_eq!(queued["kind"], "send");
    assert!(matches!(
        queued["status"].as_str(),
        Some("queued" | "delivered")
    ));
    poll("the --no-wait message in 3's inbox", || {
        d3.peerctl(&["inbox"]).ok().contains("second").then_some(())
    });
    // --from and --limit.
    d1.peerctl(&["send", "3", "third"]).ok();
    let from2 = d3.peerctl(&["inbox", "--json", "--from", "2"]).json();
    let texts: Vec<&str> = from2["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(texts, ["second"]);
    let last = d3.peerctl(&["inbox", "--json", "--limit", "1"]).json();
    assert_eq!(last["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(last["messages"][0]["text"], "third");

    let outbox = d1.peerctl(&["outbox"]).ok();
    assert!(outbox.starts_with("MSG"), "{outbox}");
    assert!(
        outbox.contains("delivered") && outbox.contains("third"),
        "{outbox}"
    );
    let o = d1.peerctl(&["outbox", "--json"]).json();
    assert_eq!(o["kind"], "outbox");
    let entries = o["messages"].as_array().expect("messages");
    assert_eq!(entries.len(), 2, "{o}");
    assert!(entries
        .iter()
        .all(|e| e["status"] == "delivered" && e["to"] == 3 && e["attempts"].is_u64()));
    assert_eq!(
        d2.peerctl(&["outbox", "--limit", "1", "--json"]).json()["messages"][0]["text"],
        "second"
    );
}

#[test]
fn daemon_errors_exit_1_with_the_stable_code() {
    let net = Net::start(2);
    let d1 = &net.daemons[0];
    let unknown = d1.peerctl(&["send", "99", "anyone?"]);
    assert_eq!(unknown.code, Some(1), "{unknown:?}");
    assert!(unknown.stderr.starts_with("error: "), "{unknown:?}");
    assert!(unknown.stderr.contains("99"), "{unknown:?}");
    let json = d1.peerctl(&["--json", "send", "99", "anyone?"]);
    assert_eq!(json.code, Some(1));
    assert_eq!(json.json()["error"]["code"], "unknown_peer");
    assert!(json.json()["error"]["message"].is_string());

    let own = d1.peerctl(&["--json", "send", "1", "me"]);
    assert_eq!(own.code, Some(1), "{own:?}");
    assert_eq!(own.json()["error"]["code"], "self_target");
}

#[test]
fn texts_over_1000_bytes_are_refused_by_peerctl_and_by_the_daemon() {
    let net = Net::start(2);
    let d1 = &net.daemons[0];
    let long = "x".repeat(1001);
    let out = d1.peerctl(&["send", "2", &long]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("1000 bytes"), "{out:?}");
    let exact = "y".repeat(1000);
    assert!(d1
        .peerctl(&["send", "2", &exact])
        .ok()
        .starts_with("delivered to 2"));

    // A program that skips peerctl's check is refused by the daemon itself.
    let mut program = d1.ctl();
    let req = program.submit(Command::Send {
        to: peer(2),
        text: long.clone(),
        ttl_secs: None,
        wait: true,
    });
    let (answered, outcome) = program.next_reply();
    assert_eq!(answered, Some(req));
    let refused = outcome.expect_err("a text over 1000 bytes is refused");
    assert_eq!(refused.code, ErrorKind::TextTooLong, "{refused:?}");
    assert!(
        refused.message.contains("1000"),
        "the daemon names the limit: {refused:?}"
    );
    let inbox = net.daemons[1].peerctl(&["inbox", "--json"]).json();
    assert_eq!(
        inbox["messages"].as_array().map(Vec::len),
        Some(1),
        "{inbox}"
    );
}

#[test]
fn stop_unregisters_and_ends_the_daemon() {
    let mut net = Net::start(2);
    let out = net.daemons[1].peerctl(&["stop"]).ok();
    assert!(out.contains("stopping"), "{out}");
    let status = net.daemons[1].proc.wait();
    assert!(status.success(), "peerd start exited with {status}");
    assert!(
        !net.daemons[1].socket.exists(),
        "the socket file is removed"
    );
    let gone = net.daemons[1].peerctl(&["id"]);
    assert_eq!(gone.code, Some(3), "{gone:?}");
    // Unregistered at once: the other peer no longer lists it.
    let list = net.daemons[0].peerctl(&["--json", "list"]).json();
    assert_eq!(list["peers"], serde_json::json!([]), "{list}");
    let j = net.daemons[0].peerctl(&["--json", "stop"]).json();
    assert_eq!(j, serde_json::json!({"kind": "stop"}));
    assert!(net.daemons[0].proc.wait().success());
}
