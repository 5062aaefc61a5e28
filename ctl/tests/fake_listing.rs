//! `peerctl inbox` and `outbox` against a scripted stand-in: the latest 20
//! by default (`--limit`, `--all`), `--since` sent as `since_ms` or applied
//! by peerctl when the daemon does not know it, times in the local zone or
//! UTC, and long texts cut to the width (`--full` keeps them).

mod fake;
mod support;

use fake::{err, message, ok, Fake};
use serde_json::{json, Value};

const T0: u64 = 1_795_000_000_000;

/// An inbox of `n` messages, one a minute from T0, honouring `limit` (the
/// newest N) and `since_ms` when `knows_since`.
fn inbox(n: u64, knows_since: bool) -> impl Fn(usize, &Value) -> Vec<String> {
    move |_, r| {
        if r.get("since_ms").is_some() && !knows_since {
            return vec![err(
                "bad_request",
                "malformed request: unknown field `since_ms`",
            )];
        }
        if r["cmd"] == "outbox" {
            return vec![ok(json!({"kind": "outbox", "messages": []}))];
        }
        let since = r["since_ms"].as_u64().unwrap_or(0);
        let mut all: Vec<Value> = (1..=n)
            .map(|i| message(1, i, &format!("text {i}"), T0 + i * 60_000))
            .filter(|m| m["received_ms"].as_u64() >= Some(since))
            .collect();
        if let Some(limit) = r["limit"].as_u64() {
            let skip = all
                .len()
                .saturating_sub(usize::try_from(limit).expect("limit"));
            all.drain(..skip);
        }
        vec![ok(json!({"kind": r["cmd"], "messages": all}))]
    }
}

fn texts(run: &support::Run) -> Vec<String> {
    run.json()["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["text"].as_str().expect("text").to_string())
        .collect()
}

#[test]
fn the_latest_20_by_default_with_a_hint_about_the_rest() {
    let f = Fake::start(inbox(30, true));
    let run = f.ctl(&["inbox"]);
    assert_eq!(run.code, Some(0));
    let rows: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(rows.len(), 21, "header and 20 rows: {}", run.stdout);
    assert!(rows[1].ends_with("text 11") && rows[20].ends_with("text 30"));
    assert_eq!(
        run.stderr,
        "(showing the latest 20; older ones with --all, --limit N or --since TIME)\n"
    );
    let all = f.ctl(&["inbox", "--all"]);
    assert_eq!(all.stdout.lines().count(), 31);
    assert!(all.stderr.is_empty(), "{all:?}");
    let five = f.ctl(&["--json", "inbox", "--limit", "5"]);
    assert_eq!(
        texts(&five),
        ["text 26", "text 27", "text 28", "text 29", "text 30"]
    );
    // No hint when nothing is left out.
    let small = Fake::start(inbox(3, true));
    assert!(small.ctl(&["inbox"]).stderr.is_empty());
    // What was asked: one more than shown for people, the selection for JSON.
    f.ctl(&["--json", "inbox"]).ok();
    let limits: Vec<Value> = f
        .requests()
        .iter()
        .map(|(_, r)| r["limit"].clone())
        .collect();
    assert_eq!(limits, [json!(21), Value::Null, json!(5), json!(20)]);
}

#[test]
fn since_is_sent_to_the_daemon_or_applied_here() {
    for knows_since in [true, false] {
        let f = Fake::start(inbox(30, knows_since));
        // T0 + 28 min, as an RFC 3339 time.
        let run = f.ctl(&["--json", "inbox", "--since", "2026-11-18T11:34:40Z"]);
        assert_eq!(
            texts(&run),
            ["text 28", "text 29", "text 30"],
            "{knows_since}"
        );
        let run = f.ctl(&[
            "--json",
            "inbox",
            "--since",
            "2026-11-18T11:34:40Z",
            "--limit",
            "2",
        ]);
        assert_eq!(texts(&run), ["text 29", "text 30"], "{knows_since}");
        // A local time, in the zone of TZ.
        let run = support::run(
            f.command(&["--json", "inbox", "--since", "2026-11-18 12:35:40"])
                .env("TZ", "Europe/Paris"),
            "",
        );
        assert_eq!(texts(&run), ["text 29", "text 30"], "{knows_since}");
        let first = &f.requests()[0].1;
        assert_eq!(first["since_ms"], json!(T0 + 28 * 60_000));
    }
    let f = Fake::start(inbox(3, true));
    let recent = f.ctl(&["--json", "outbox", "--since", "1h"]);
    assert_eq!(recent.code, Some(0), "{recent:?}");
    let since = f.requests()[0].1["since_ms"].as_u64().expect("since_ms");
    let now = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms");
    assert!(
        now - since >= 3_600_000 && now - since < 3_660_000,
        "{since}"
    );
}

#[test]
fn times_are_local_unless_utc() {
    let f = Fake::start(inbox(1, true));
    let paris = support::run(f.command(&["inbox"]).env("TZ", "Europe/Paris"), "");
    assert!(
        paris
            .stdout
            .starts_with("FROM  MSG  ADDRESS          RECEIVED "),
        "{paris:?}"
    );
    assert!(
        paris.stdout.contains(" 2026-11-18 12:07:40 CET "),
        "{paris:?}"
    );
    let utc = support::run(f.command(&["--utc", "inbox"]).env("TZ", "Europe/Paris"), "");
    assert!(utc.stdout.contains(" 2026-11-18 11:07:40 UTC "), "{utc:?}");
    let new_york = support::run(f.command(&["inbox"]).env("TZ", "America/New_York"), "");
    assert!(
        new_york.stdout.contains(" 2026-11-18 06:07:40 EST "),
        "{new_york:?}"
    );
}

#[test]
fn long_texts_are_cut_to_the_width_unless_full() {
    let long = "word ".repeat(100);
    let text = long.clone();
    let f = Fake::start(move |_, r| {
        vec![ok(
            json!({"kind": r["cmd"], "messages": [message(1, 1, &text, T0)]}),
        )]
    });
    let cut = support::run(f.command(&["inbox"]).env("COLUMNS", "80"), "").ok();
    let row = cut.lines().nth(1).expect("row");
    assert_eq!(row.chars().count(), 80, "{row}");
    assert!(row.ends_with('…'), "{row}");
    let full = support::run(f.command(&["inbox", "--full"]).env("COLUMNS", "80"), "").ok();
    assert!(full.lines().nth(1).expect("row").ends_with(long.as_str()));
    // Not a terminal and no COLUMNS: nothing to fit.
    assert!(f.ctl(&["inbox"]).ok().contains(long.as_str()));
    let json = support::run(f.command(&["--json", "inbox"]).env("COLUMNS", "80"), "");
    assert_eq!(json.json()["messages"][0]["text"], json!(long));
}
