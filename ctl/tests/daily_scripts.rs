//! End to end, with the real `peerd` and `peerctl`: what scripts rely on.
//! `peerctl id` waits for the first registration instead of printing a
//! sentence; `send ID -` reads standard input, texts may start with `-`,
//! an empty text is refused; durations such as `1.5h` parse and
//! `--timeout 0` waits without limit; `stop` with no daemon succeeds; every
//! `--json` reply's kind is its command's name; `ping -c N`.

mod support;

use serde_json::Value;
use support::{Daemon, Net, Server};

#[test]
fn id_waits_for_the_first_registration() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let server = Server::start(tmp.path());
    // The server is frozen: the daemon cannot register yet.
    server.proc.signal(libc::SIGSTOP);
    let daemon = Daemon::spawn(&tmp.path().join("peer1"), server.addr);
    daemon.wait_listening();
    let early = daemon.ctl(&["--timeout", "300ms", "id"]);
    assert_eq!(early.code, Some(4), "{early:?}");
    assert_eq!(early.stdout, "", "never a sentence on stdout");
    assert!(
        early
            .stderr
            .starts_with("error: no id yet: peerd has not registered with "),
        "{early:?}"
    );
    assert!(early.stderr.contains("within 300ms"), "{early:?}");
    let json = daemon.ctl(&["--json", "--timeout", "300ms", "id"]);
    assert_eq!(json.json()["error"]["code"], "no_id");

    // `peerctl id` started before the registration prints the id once it comes.
    let waiting = daemon.ctl_spawn(&["id"]);
    server.proc.signal(libc::SIGCONT);
    let mut waiting = waiting;
    assert!(waiting.wait().success(), "{}", waiting.stderr.text());
    assert_eq!(waiting.stdout.text(), "1\n");
    assert_eq!(waiting.stderr.text(), "");
}

#[test]
fn send_takes_stdin_and_hyphens_and_refuses_an_empty_text() {
    let net = Net::start(2);
    let (d1, d2) = (&net.daemons[0], &net.daemons[1]);
    let out = d1
        .ctl_input(&["send", "2", "-"], "first line\nsecond line\n")
        .ok();
    assert!(out.starts_with("delivered to 2 ("), "{out}");
    d1.ctl(&["send", "2", "-5", "degrees", "outside"]).ok();
    d1.ctl(&["send", "2", "--", "dashes"]).ok();
    for (args, input) in [(vec!["send", "2", ""], ""), (vec!["send", "2", "-"], "\n")] {
        let refused = d1.ctl_input(&args, input);
        assert_eq!(refused.code, Some(2), "{refused:?}");
        assert_eq!(
            refused.stderr,
            "error: the text is empty (nothing was sent)\n"
        );
    }
    let inbox = d2.ctl(&["--json", "inbox", "--all"]).json();
    let texts: Vec<&str> = inbox["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(
        texts,
        ["first line\nsecond line", "-5 degrees outside", "dashes"]
    );
    let outbox = d1.ctl(&["--json", "outbox", "--all"]).json();
    assert_eq!(outbox["messages"].as_array().map(Vec::len), Some(3));
}

#[test]
fn durations_and_an_unlimited_timeout() {
    let net = Net::start(2);
    let d1 = &net.daemons[0];
    d1.ctl(&[
        "--timeout",
        "0",
        "send",
        "--ttl",
        "1.5h",
        "2",
        "in 90 minutes",
    ])
    .ok();
    d1.ctl(&["--timeout", "1.5s", "send", "--ttl", "90m", "2", "same"])
        .ok();
    let outbox = d1.ctl(&["--json", "outbox"]).json();
    for m in outbox["messages"].as_array().expect("messages") {
        let ttl =
            m["expires_ms"].as_u64().expect("expires") - m["created_ms"].as_u64().expect("created");
        assert_eq!(ttl, 5_400_000, "{m}");
    }
    let bad = d1.ctl(&["send", "--ttl", "soon", "2", "x"]);
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert!(bad.stderr.contains("invalid duration \"soon\""), "{bad:?}");
}

#[test]
fn every_kind_is_its_commands_name_and_stop_twice_is_fine() {
    let mut net = Net::start(2);
    let d1 = &net.daemons[0];
    let kind = |args: &[&str]| -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        d1.ctl(&all).json()["kind"].clone()
    };
    for (args, expected) in [
        (&["id"][..], "id"),
        (&["status"], "status"),
        (&["list"], "list"),
        (&["send", "2", "hi"], "send"),
        (&["outbox"], "outbox"),
        (&["inbox"], "inbox"),
        (&["peers"], "peers"),
        (&["ping", "2"], "ping"),
    ] {
        assert_eq!(kind(args), expected, "{args:?}");
    }
    let d2 = &mut net.daemons[1];
    assert_eq!(
        d2.ctl(&["--json", "stop"]).json(),
        serde_json::json!({"kind": "stop"})
    );
    assert!(d2.proc.wait().success());
    let again = d2.ctl(&["stop"]);
    assert_eq!(again.code, Some(0), "{again:?}");
    assert_eq!(again.stdout, "");
    assert_eq!(
        again.stderr,
        format!(
            "peerd is not running (no socket at {}); nothing to stop\n",
            d2.socket().display()
        )
    );
}

#[test]
fn ping_counts_and_rounds() {
    let net = Net::start(2);
    let d1 = &net.daemons[0];
    d1.ctl(&["send", "2", "hello"]).ok();
    let out = d1.ctl(&["ping", "2", "-c", "3", "-i", "50ms"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    for line in &lines[..3] {
        assert!(
            line.starts_with("pong from 2: ") && line.contains(" ms (direct 127.0.0.1:"),
            "{out}"
        );
    }
    assert!(
        lines[3].starts_with("--- peer 2: 3 sent, 3 answered, 0% lost; round trip min/avg/max "),
        "{out}"
    );
    let json = d1.ctl(&["--json", "ping", "2"]).json();
    let rtt = json["rtt_ms"].as_f64().expect("rtt_ms");
    assert_eq!(
        (rtt * 1000.0).round() / 1000.0,
        rtt,
        "rounded to microseconds: {json}"
    );
}
