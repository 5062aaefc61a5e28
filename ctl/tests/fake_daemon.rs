//! `peerctl` against a scripted stand-in for the daemon's control socket:
//! how replies become human text, JSON and exit statuses, and what peerctl
//! asks for, independent of the real daemon (which the `daily_*` tests and
//! `daemon/tests/e2e_*` cover).

mod fake;
mod support;

use fake::{err, message, ok, Fake};
use serde_json::{json, Value};

#[test]
fn list_is_a_table_and_json_is_the_result_object() {
    let f = Fake::start(|_, _| {
        vec![ok(json!({"kind": "list", "peers": [
            {"id": 2, "addr": "127.0.0.1:4000"}, {"id": 13, "addr": "[::1]:9"}]}))]
    });
    assert_eq!(
        f.ctl(&["list"]).ok(),
        "ID  ADDRESS\n2   127.0.0.1:4000\n13  [::1]:9\n"
    );
    assert_eq!(
        f.ctl(&["--json", "list"]).ok(),
        "{\"kind\":\"list\",\"peers\":[{\"id\":2,\"addr\":\"127.0.0.1:4000\"},{\"id\":13,\"addr\":\"[::1]:9\"}]}\n"
    );
}

#[test]
fn a_daemon_error_exits_1() {
    let f = Fake::start(|_, _| vec![err("unknown_peer", "peer 9 was never registered")]);
    let run = f.ctl(&["send", "9", "hi"]);
    assert_eq!((run.code, run.stdout.as_str()), (Some(1), ""));
    assert_eq!(run.stderr, "error: peer 9 was never registered\n");
    assert_eq!(
        f.ctl(&["--json", "send", "9", "hi"]).stdout,
        "{\"error\":{\"code\":\"unknown_peer\",\"message\":\"peer 9 was never registered\"}}\n"
    );
}

fn send_replies(_: usize, r: &Value) -> Vec<String> {
    let (status, note) = match r["to"].as_u64() {
        Some(2) => (
            "queued",
            Some("peer 2 is offline; queued until 2026-11-18 11:06:40 UTC"),
        ),
        Some(3) => ("queued", None),
        _ => ("failed", Some("expired after 1h")),
    };
    let mut result = json!({"kind": "send", "to": r["to"], "msg": 4, "status": status,
                            "expires_ms": 1_795_000_000_000u64});
    if let Some(note) = note {
        result["note"] = note.into();
    }
    vec![ok(result)]
}

#[test]
fn queued_says_it_once_in_local_time_and_failed_exits_1() {
    let f = Fake::start(send_replies);
    let run = support::run(
        f.command(&["send", "2", "hi"]).env("TZ", "Europe/Paris"),
        "",
    );
    assert_eq!(run.code, Some(0));
    assert_eq!(
        run.stdout,
        "queued for 2 as message 4: peer 2 is offline; it stays queued until \
         2026-11-18 12:06:40 CET (see `peerctl outbox`)\n"
    );
    let no_wait = f.ctl(&["send", "--no-wait", "3", "hi"]).ok();
    assert_eq!(
        no_wait,
        "queued for 3 as message 4; peerd delivers it in the background \
         (see `peerctl outbox`)\n"
    );
    let run = f.ctl(&["--json", "send", "5", "hi"]);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.json()["status"], "failed");
    assert!(run.stderr.is_empty(), "{run:?}");
}

#[test]
fn send_reads_standard_input_and_takes_texts_starting_with_a_hyphen() {
    let f = Fake::start(send_replies);
    f.ctl(&["send", "3", "-5", "degrees", "--no-wait"]).ok();
    support::run(&mut f.command(&["send", "3", "-"]), "line one\nline two\n").ok();
    let run = support::run(&mut f.command(&["send", "3", "-"]), "\n");
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(run.stderr, "error: the text is empty (nothing was sent)\n");
    let texts: Vec<Value> = f
        .requests()
        .iter()
        .map(|(_, r)| r["text"].clone())
        .collect();
    assert_eq!(
        texts,
        [json!("-5 degrees --no-wait"), json!("line one\nline two")]
    );
}

#[test]
fn id_waits_for_the_first_registration() {
    // No id for the first three answers, then 7.
    let f = Fake::start(|_, _| {
        static ASKED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = ASKED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let id = if n < 3 { Value::Null } else { json!(7) };
        vec![ok(json!({"kind": "id", "id": id}))]
    });
    assert_eq!(f.ctl(&["id"]).ok(), "7\n");
    let never = Fake::start(|_, r| match r["cmd"].as_str() {
        Some("status") => vec![ok(
            json!({"kind": "status", "id": null, "server": "127.0.0.1:9",
            "state": "offline", "reason": "server 127.0.0.1:9 did not answer (5 tries)",
            "local_addr": "0.0.0.0:1", "uptime_secs": 1, "inbox": 0, "outbox_queued": 0,
            "outbox_delivered": 0, "outbox_failed": 0}),
        )],
        _ => vec![ok(json!({"kind": "id", "id": null}))],
    });
    let run = never.ctl(&["--timeout", "300ms", "id"]);
    assert_eq!((run.code, run.stdout.as_str()), (Some(4), ""), "{run:?}");
    assert_eq!(
        run.stderr,
        "error: no id yet: peerd has not registered with 127.0.0.1:9 (offline: server \
         127.0.0.1:9 did not answer (5 tries)) within 300ms; see `peerctl status`, or wait \
         longer with --timeout\n"
    );
    let run = never.ctl(&["--json", "--timeout", "300ms", "id"]);
    assert_eq!(run.json()["error"]["code"], "no_id");
}

#[test]
fn ping_rounds_and_counts() {
    let f = Fake::start(|_, _| {
        vec![ok(json!({"kind": "ping", "to": 2, "path": "direct",
                       "addr": "127.0.0.1:4000", "rtt_ms": 0.612_345_6}))]
    });
    assert_eq!(
        f.ctl(&["ping", "2"]).ok(),
        "pong from 2: 0.612 ms (direct 127.0.0.1:4000)\n"
    );
    assert_eq!(
        f.ctl(&["--json", "ping", "2"]).json()["rtt_ms"],
        json!(0.612)
    );
    let out = f.ctl(&["ping", "2", "-c", "3", "-i", "10ms"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[..3]
        .iter()
        .all(|l| l.starts_with("pong from 2: 0.612 ms")));
    assert_eq!(
        lines[3],
        "--- peer 2: 3 sent, 3 answered, 0% lost; round trip min/avg/max 0.612/0.612/0.612 ms"
    );
    let json = f
        .ctl(&["--json", "ping", "2", "-c", "2", "-i", "10ms"])
        .ok();
    assert_eq!(json.lines().count(), 2, "{json}");
    let unreachable =
        Fake::start(|_, _| vec![err("unreachable", "no answer from peer 2 within 2 s")]);
    let run = unreachable.ctl(&["ping", "2", "-c", "2", "-i", "10ms"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run
        .stdout
        .starts_with("no pong from 2: no answer from peer 2 within 2 s\n"));
    assert!(run
        .stdout
        .ends_with("--- peer 2: 2 sent, 0 answered, 100% lost\n"));
}

#[test]
fn delete_and_prune_requests_and_an_older_daemons_refusal() {
    let f = Fake::start(|_, r| {
        let kind = r["cmd"].as_str().unwrap_or_default().to_string();
        vec![ok(json!({"kind": kind, "deleted": 2}))]
    });
    assert_eq!(
        f.ctl(&["inbox", "delete", "2:17", "3:1"]).ok(),
        "deleted 2 received messages\n"
    );
    assert_eq!(
        f.ctl(&["outbox", "prune", "--older-than", "7d"]).ok(),
        "pruned 2 sent messages\n"
    );
    assert_eq!(
        f.ctl(&["--json", "outbox", "delete", "5"]).json(),
        json!({"kind": "outbox_delete", "deleted": 2})
    );
    f.ctl(&["inbox", "prune", "--older-than", "1.5h"]).ok();
    let sent: Vec<Value> = f
        .requests()
        .into_iter()
        .map(|(_, mut r)| {
            r.as_object_mut().expect("object").remove("req");
            r
        })
        .collect();
    assert_eq!(
        sent,
        [
            json!({"cmd": "inbox_delete", "messages": [{"from": 2, "msg": 17}, {"from": 3, "msg": 1}]}),
            json!({"cmd": "outbox_prune", "older_than_secs": 604_800}),
            json!({"cmd": "outbox_delete", "msgs": [5]}),
            json!({"cmd": "inbox_prune", "older_than_secs": 5400}),
        ]
    );
    let old = Fake::start(|_, _| {
        vec![err(
            "bad_request",
            "malformed request: unknown variant `inbox_prune`, expected one of `id`, `status`",
        )]
    });
    let run = old.ctl(&["inbox", "prune", "--older-than", "30d"]);
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr,
        "error: this peerd does not support `inbox prune` yet; nothing was changed \
         (update peerd)\n"
    );
    assert_eq!(
        old.ctl(&["--json", "inbox", "prune", "--older-than", "1d"])
            .json()["error"]["code"],
        "unsupported"
    );
}

#[test]
fn a_stored_message_is_shown_escaped_and_json_keeps_it_exact() {
    let evil = "hi\u{1b}[2J\u{1b}]0;pwned\u{7}\nfake: line\r";
    let f = Fake::start(move |_, _| {
        vec![ok(
            json!({"kind": "inbox", "messages": [message(1, 4, evil, 1_795_000_000_000)]}),
        )]
    });
    let table = f.ctl(&["inbox"]).ok();
    assert_eq!(
        table,
        "FROM  MSG  ADDRESS          RECEIVED                 TEXT\n\
         1     4    127.0.0.1:35213  2026-11-18 11:06:40 UTC  hi\\e[2J\\e]0;pwned\\x07\\nfake: line\\r\n"
    );
    let json = f.ctl(&["--json", "inbox"]).json();
    assert_eq!(json["messages"][0]["text"], evil);
}
