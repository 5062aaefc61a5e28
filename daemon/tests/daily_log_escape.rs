//! A received text never reaches the daemon's log raw: a newline cannot
//! forge a log line, an escape sequence cannot repaint the terminal that
//! shows the log; control characters are written as visible escapes. The
//! control protocol (`--json`) keeps the exact text.

mod support;

use support::{poll, Daemon, Launch, Scratch};

#[test]
fn control_characters_of_a_received_text_are_escaped_in_the_log() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let a = Daemon::start(server.addr, &tmp.path("a"));
    let log = tmp.path("b.log");
    let b = Launch::new(server.addr, &tmp.path("b"))
        .args(&["--log-file", log.to_str().expect("utf-8 path")])
        .start();
    let idb = b.wait_registered();
    let text = "hi\nERROR peerd: forged line\r\u{1b}[2J\u{1b}[31mred\u{7}\u{202e}txt";
    a.send(idb, text, true).expect("send");

    let line = poll("the message in b's log", || {
        let raw = std::fs::read(&log).ok()?;
        let raw = String::from_utf8(raw).expect("the log is UTF-8");
        raw.lines()
            .find(|l| l.contains("message from"))
            .map(str::to_owned)
    });
    assert!(
        line.ends_with("hi\\nERROR peerd: forged line\\r\\e[2J\\e[31mred\\x07\\u{202e}txt"),
        "{line:?}"
    );
    let raw = std::fs::read_to_string(&log).expect("log");
    assert!(
        !raw.lines().any(|l| l.starts_with("ERROR peerd: forged")),
        "no forged line: {raw}"
    );
    for c in ['\u{1b}', '\u{7}', '\r', '\u{202e}'] {
        assert!(!raw.contains(c), "{c:?} reached the log: {raw:?}");
    }

    // The protocol and --json keep the exact text.
    let inbox = b.inbox(None).expect("inbox");
    assert_eq!(inbox[0].text, text);
    let json = b.peerctl(&["--json", "inbox"]).json();
    assert_eq!(json["messages"][0]["text"], text);
}
