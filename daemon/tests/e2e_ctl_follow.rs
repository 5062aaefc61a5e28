//! End to end: `peerctl inbox --follow` prints the history, then every new
//! message as it arrives, one JSON object per line with `--json`, and waits
//! for the daemon to come back when it stops.

mod support;

use support::Net;

#[test]
fn a_json_follower_started_first_sees_a_later_message() {
    let mut net = Net::start(2);
    let mut follower = net.daemons[1].peerctl_spawn(&["--json", "inbox", "--follow"]);
    follower.stdout.wait_for("\"event\":\"live\"");
    net.daemons[0]
        .peerctl(&["send", "2", "sent after the follower"])
        .ok();
    let text = follower.stdout.wait_for("sent after the follower");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert_eq!(lines[0], serde_json::json!({"event": "live"}), "{text}");
    let m = &lines[1];
    assert_eq!(m["event"], "message", "{text}");
    assert_eq!(m["message"]["from"], 1);
    assert_eq!(m["message"]["text"], "sent after the follower");
    assert!(m["message"]["addr"].is_string() && m["message"]["received_ms"].is_u64());

    // The daemon stopping: the follower says so and waits for it to return.
    assert!(net.daemons[1].stop().success());
    follower.stdout.wait_for("\"event\":\"closing\"");
    follower.stderr.wait_for("waiting for it to come back");
    assert!(
        follower.try_status().is_none(),
        "the follower keeps waiting"
    );
}

#[test]
fn a_human_follower_prints_history_then_new_messages_from_one_sender() {
    let net = Net::start(3);
    let (d1, d2, d3) = (&net.daemons[0], &net.daemons[1], &net.daemons[2]);
    d1.peerctl(&["send", "3", "old news"]).ok();
    d2.peerctl(&["send", "3", "from two, before"]).ok();
    let follower = d3.peerctl_spawn(&["inbox", "--follow", "--from", "1"]);
    // The replayed history shows the follower is connected.
    follower.stdout.wait_for("old news");
    d2.peerctl(&["send", "3", "from two, after"]).ok();
    d1.peerctl(&["send", "3", "fresh news"]).ok();
    let text = follower.stdout.wait_for("fresh news");
    assert!(!text.contains("from two"), "--from 1 filters: {text}");
    let fresh = text
        .lines()
        .find(|l| l.contains("fresh news"))
        .expect("line");
    assert!(
        fresh.contains(" message from 1 (127.0.0.1:") && fresh.ends_with("): fresh news"),
        "{fresh}"
    );
    // --limit caps the replayed history.
    let capped = d3.peerctl_spawn(&["--json", "inbox", "--follow", "--limit", "1"]);
    let text = capped.stdout.wait_for("\"event\":\"live\"");
    assert_eq!(text.lines().count(), 2, "one message then live: {text}");
    assert!(text.contains("fresh news"), "{text}");
}
