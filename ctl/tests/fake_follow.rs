//! `peerctl inbox --follow` against a scripted stand-in: the latest 10
//! first, then new messages; when the daemon goes away and comes back the
//! follower says so on stderr and goes on from the last message shown,
//! with `since_ms`, or with a full replay it filters when the daemon does
//! not know `since_ms`, never showing a message twice.

mod fake;
mod support;

use fake::{err, event, message, ok, Fake, CLOSE};
use serde_json::{json, Value};

const T0: u64 = 1_795_000_000_000;

fn m(msg: u64, at_s: u64) -> Value {
    message(1, msg, &format!("text {msg}"), T0 + at_s * 1000)
}

fn following() -> String {
    ok(json!({"kind": "follow"}))
}

/// Connection 0: two messages, live, then the daemon stops. Later
/// connections: the daemon is back with two more messages (one received in
/// the same millisecond as the last one shown), and one arrives live.
fn restarting(knows_since: bool) -> impl Fn(usize, &Value) -> Vec<String> {
    move |conn, r| {
        let live = json!({"event": "live"}).to_string();
        if conn == 0 {
            let closing = json!({"event": "closing"}).to_string();
            return vec![
                following(),
                event(m(1, 60)),
                event(m(2, 120)),
                live,
                closing,
                CLOSE.into(),
            ];
        }
        if r.get("since_ms").is_some() && !knows_since {
            return vec![err(
                "bad_request",
                "malformed request: unknown field `since_ms`",
            )];
        }
        let since = r["since_ms"].as_u64().unwrap_or(0);
        let mut lines = vec![following()];
        lines.extend(
            [m(1, 60), m(2, 120), m(3, 120), m(4, 180)]
                .into_iter()
                .filter(|x| x["received_ms"].as_u64() >= Some(since))
                .map(event),
        );
        lines.push(live);
        lines.push(event(m(5, 240)));
        lines
    }
}

#[test]
fn the_follower_goes_on_after_the_daemon_comes_back() {
    for knows_since in [true, false] {
        let f = Fake::start(restarting(knows_since));
        let follower = support::Proc::spawn(&mut f.command(&["inbox", "--follow"]));
        let out = follower.stdout.wait_for("text 5");
        let texts: Vec<&str> = out
            .lines()
            .map(|l| l.rsplit(": ").next().expect("text"))
            .collect();
        assert_eq!(
            texts,
            ["text 1", "text 2", "text 3", "text 4", "text 5"],
            "{knows_since}: {out}"
        );
        assert!(
            out.starts_with("2026-11-18 11:07:40 UTC message from 1 (127.0.0.1:35213): text 1\n"),
            "{out}"
        );
        let notes = follower.stderr.text();
        assert_eq!(
            notes,
            "peerd went away; waiting for it to come back (Ctrl-C to quit)\n\
             peerd is back; following again\n"
        );
        let requests = f.requests();
        assert_eq!(requests[0].1["limit"], 10, "the latest 10 first");
        assert_eq!(requests[1].1["since_ms"], json!(T0 + 120_000));
        if !knows_since {
            assert_eq!(requests[2].1.get("limit"), None, "{requests:?}");
            assert_eq!(requests[2].1.get("since_ms"), None, "{requests:?}");
        }
    }
}

#[test]
fn a_json_follower_prints_every_event_line() {
    let f = Fake::start(restarting(true));
    let follower = support::Proc::spawn(&mut f.command(&["--json", "inbox", "-f", "--all"]));
    let out = follower.stdout.wait_for("text 5");
    let events: Vec<String> = out
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("JSON line");
            v["message"]["text"].as_str().map_or_else(
                || v["event"].as_str().expect("event").to_string(),
                str::to_string,
            )
        })
        .collect();
    assert_eq!(
        events,
        ["text 1", "text 2", "live", "closing", "text 3", "text 4", "live", "text 5"]
    );
    assert_eq!(
        f.requests()[0].1.get("limit"),
        None,
        "--all replays everything"
    );
}

#[test]
fn an_escaped_and_cut_follow_line() {
    let f = Fake::start(|_, _| {
        let long = format!("bell\u{7}{}", "x".repeat(300));
        vec![
            following(),
            event(message(2, 1, &long, T0)),
            json!({"event": "live"}).to_string(),
        ]
    });
    let follower = support::Proc::spawn(f.command(&["inbox", "--follow"]).env("COLUMNS", "100"));
    let line = follower.stdout.wait_for("\n");
    let line = line.trim_end();
    assert!(line.contains("): bell\\x07xxx"), "{line}");
    assert_eq!(line.chars().count(), 100, "{line}");
}
