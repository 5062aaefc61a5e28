//! End to end, with the real `peerd` and `peerctl`: reading messages. A
//! received text with control characters is shown escaped (`inbox`,
//! `inbox --follow`) and exact with `--json`; `inbox` and `outbox` show the
//! latest 20 (`--all`, `--limit`, `--since`); times are local (`TZ`) or
//! UTC; long texts are cut to the width; `inbox --follow` starts with the
//! latest 10 and goes on across a daemon restart.

mod support;

use jiff::Timestamp;
use support::{poll, Net};

fn texts(json: &serde_json::Value) -> Vec<String> {
    json["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["text"].as_str().expect("text").to_string())
        .collect()
}

#[test]
fn control_characters_from_a_peer_are_shown_escaped() {
    let net = Net::start(2);
    let (d1, d2) = (&net.daemons[0], &net.daemons[1]);
    let follower = d2.ctl_spawn(&["inbox", "--follow"]);
    let evil = "hi\u{1b}[2J\u{1b}]0;owned\u{7}\nfake log line\rtab\there\u{202e}";
    d1.ctl_input(&["send", "2", "-"], evil).ok();
    let escaped = "hi\\e[2J\\e]0;owned\\x07\\nfake log line\\rtab\\there\\u{202e}";
    let inbox = d2.ctl(&["inbox"]).ok();
    assert_eq!(inbox.lines().count(), 2, "one row: {inbox:?}");
    assert!(inbox.ends_with(&format!("  {escaped}\n")), "{inbox:?}");
    assert!(
        !inbox.contains('\u{1b}') && !inbox.contains('\u{7}'),
        "{inbox:?}"
    );
    let line = follower.stdout.wait_for(escaped);
    assert!(!line.contains('\u{1b}'), "{line:?}");
    assert_eq!(texts(&d2.ctl(&["--json", "inbox"]).json()), [evil]);
    let outbox = d1.ctl(&["outbox"]).ok();
    assert!(outbox.contains(escaped), "{outbox:?}");
}

#[test]
fn the_latest_20_by_default_and_since() {
    let net = Net::start(2);
    let (d1, d2) = (&net.daemons[0], &net.daemons[1]);
    for i in 1..=15 {
        d1.ctl(&["send", "2", &format!("early {i}")]).ok();
    }
    // Every early message is stored before `cut`: later ones are after it.
    let last_early = d2.ctl(&["--json", "inbox", "--limit", "1"]).json()["messages"][0]
        ["received_ms"]
        .as_u64()
        .expect("received_ms");
    let cut = poll("the clock to pass the last early message", || {
        let now = Timestamp::now();
        (u64::try_from(now.as_millisecond()).expect("ms") > last_early).then_some(now)
    });
    for i in 1..=10 {
        d1.ctl(&["send", "2", &format!("late {i}")]).ok();
    }

    let run = support::run(&mut d2.command(&["inbox"]), "");
    assert_eq!(run.code, Some(0));
    let rows: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(rows.len(), 21, "{}", run.stdout);
    assert!(
        rows[1].ends_with("early 6") && rows[20].ends_with("late 10"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.starts_with("(showing the latest 20;"), "{run:?}");
    assert_eq!(d2.ctl(&["inbox", "--all"]).ok().lines().count(), 26);
    assert_eq!(
        texts(&d2.ctl(&["--json", "inbox", "--limit", "2"]).json()),
        ["late 9", "late 10"]
    );
    let outbox = support::run(&mut d1.command(&["outbox"]), "");
    assert_eq!(outbox.stdout.lines().count(), 21, "{outbox:?}");
    assert!(
        outbox.stderr.starts_with("(showing the latest 20"),
        "{outbox:?}"
    );

    let since = format!("{cut}");
    let late = texts(&d2.ctl(&["--json", "inbox", "--since", &since]).json());
    assert_eq!(
        late,
        (1..=10).map(|i| format!("late {i}")).collect::<Vec<_>>()
    );
    let late = texts(
        &d1.ctl(&["--json", "outbox", "--since", &since, "--limit", "3"])
            .json(),
    );
    assert_eq!(late, ["late 8", "late 9", "late 10"]);
    assert_eq!(d2.ctl(&["inbox", "--since", "1h"]).ok().lines().count(), 21);
    assert_eq!(
        d2.ctl(&["inbox", "--since", "2099-01-01"]).ok(),
        "inbox is empty\n"
    );
}

#[test]
fn times_follow_tz_or_utc_and_long_texts_are_cut() {
    let net = Net::start(2);
    let (d1, d2) = (&net.daemons[0], &net.daemons[1]);
    let long = format!("start {} end", "x".repeat(200));
    d1.ctl(&["send", "2", &long]).ok();
    let received = d2.ctl(&["--json", "inbox"]).json()["messages"][0]["received_ms"]
        .as_u64()
        .expect("received_ms");
    let at = Timestamp::from_millisecond(i64::try_from(received).expect("ms")).expect("time");
    let tokyo = at
        .to_zoned_datetime(jiff::tz::TimeZone::get("Asia/Tokyo").expect("tz"))
        .strftime("%Y-%m-%d %H:%M:%S JST")
        .to_string();
    let utc = at
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%d %H:%M:%S UTC")
        .to_string();
    let run = support::run(d2.command(&["inbox"]).env("TZ", "Asia/Tokyo"), "").ok();
    assert!(run.starts_with("FROM  MSG  ADDRESS"), "{run}");
    assert!(run.contains(&tokyo), "{run}");
    let run = support::run(d2.command(&["--utc", "inbox"]).env("TZ", "Asia/Tokyo"), "").ok();
    assert!(run.contains(&utc), "{run}");

    let cut = support::run(d2.command(&["inbox"]).env("COLUMNS", "100"), "").ok();
    let row = cut.lines().nth(1).expect("row");
    assert_eq!(row.chars().count(), 100, "{row}");
    assert!(row.ends_with("xx…") && !row.contains(" end"), "{row}");
    let full = support::run(d2.command(&["inbox", "--full"]).env("COLUMNS", "100"), "").ok();
    assert!(full.lines().nth(1).expect("row").ends_with(&long), "{full}");
}

#[test]
fn a_follower_starts_with_the_latest_10_and_survives_a_restart() {
    let mut net = Net::start(2);
    for i in 1..=12 {
        net.daemons[0]
            .ctl(&["send", "2", &format!("stored {i}")])
            .ok();
    }
    let follower = net.daemons[1].ctl_spawn(&["inbox", "--follow"]);
    let shown = follower.stdout.wait_for("stored 12");
    let texts: Vec<&str> = shown
        .lines()
        .map(|l| l.rsplit(": ").next().expect("text"))
        .collect();
    let expected: Vec<String> = (3..=12).map(|i| format!("stored {i}")).collect();
    assert_eq!(texts, expected, "{shown}");

    assert!(net.daemons[1].stop().success());
    follower
        .stderr
        .wait_for("waiting for it to come back (Ctrl-C to quit)");
    // While peer 2 is down, peer 1 queues a message for it.
    let queued = net.daemons[0]
        .ctl(&["send", "--no-wait", "2", "sent while down"])
        .ok();
    assert!(queued.starts_with("queued for 2"), "{queued}");
    net.daemons[1].restart();
    follower.stderr.wait_for("peerd is back; following again");
    follower.stdout.wait_for("sent while down");
    net.daemons[0].ctl(&["send", "2", "after the restart"]).ok();
    let all = follower.stdout.wait_for("after the restart");
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 12, "no repeat, no gap: {all}");
    assert!(lines[10].ends_with(": sent while down"), "{all}");
}
