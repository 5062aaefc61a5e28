//! Human sentences and tables, for fixed inputs.

use super::json::round_ms;
use super::*;
use peerd_shared::{MsgId, PeerId};

fn utc() -> View {
    View {
        zone: TimeZone::UTC,
        fit: false,
    }
}

fn received(text: &str) -> InboxEntry {
    InboxEntry {
        from: PeerId::new(1).expect("id"),
        msg: MsgId(4),
        text: text.into(),
        addr: "127.0.0.1:35213".into(),
        path: PathKind::Direct,
        sent_ms: 0,
        received_ms: 1_795_000_000_000,
    }
}

#[test]
fn sentences_about_a_send() {
    let to = PeerId::new(2).expect("id");
    let mut outcome = SendOutcome {
        to,
        msg: MsgId(5),
        status: MsgStatus::Delivered,
        path: Some(PathKind::Direct),
        elapsed_ms: Some(1.344),
        note: None,
        expires_ms: 1_795_000_000_000,
        code: None,
    };
    assert_eq!(
        sent_text(&outcome, &utc()),
        "delivered to 2 (direct, 1.34 ms)"
    );
    outcome.status = MsgStatus::Queued;
    outcome.note = Some("peer 2 is offline; queued until 2026-11-18 11:06:40 UTC".into());
    assert_eq!(
        sent_text(&outcome, &utc()),
        "queued for 2 as message 5: peer 2 is offline; it stays queued until \
         2026-11-18 11:06:40 UTC (see `peerctl outbox`)"
    );
    outcome.note = None;
    let text = sent_text(&outcome, &utc());
    assert!(
        !text.contains("stays queued") && !text.contains("until"),
        "{text}"
    );
    assert!(text.contains("in the background"), "{text}");
}

#[test]
fn times_round_like_ping() {
    assert_eq!(ms(0.0612), "0.061 ms");
    assert_eq!(ms(1.344), "1.34 ms");
    assert_eq!(ms(12.46), "12.5 ms");
    assert_eq!(ms(130.4), "130 ms");
    assert!((round_ms(0.123_456_7) - 0.123).abs() < 1e-12);
}

#[test]
fn tables() {
    let peers = vec![
        ListedPeer {
            id: PeerId::new(2).expect("id"),
            addr: "127.0.0.1:4000".into(),
        },
        ListedPeer {
            id: PeerId::new(13).expect("id"),
            addr: "[::1]:5".into(),
        },
    ];
    assert_eq!(
        peers_table(&peers),
        "ID  ADDRESS\n2   127.0.0.1:4000\n13  [::1]:5"
    );
    assert_eq!(peers_table(&[]), "no other peers online");
    let rows = vec![vec!["1".into(), "a long text that does not fit".into()]];
    assert_eq!(
        table(&["ID", "TEXT"], rows.clone(), Some(20)),
        "ID  TEXT\n1   a long text tha…"
    );
    assert_eq!(
        table(&["ID", "TEXT"], rows, None),
        "ID  TEXT\n1   a long text that does not fit"
    );
}

#[test]
fn received_text_never_reaches_the_terminal_raw() {
    let evil = received("hi\u{1b}]0;owned\u{7}\n2026-01-01 fake line\r\u{1b}[2J");
    let line = message_line(&evil, &TimeZone::UTC, None);
    assert_eq!(
        line,
        "2026-11-18 11:06:40 UTC message from 1 (127.0.0.1:35213): \
         hi\\e]0;owned\\x07\\n2026-01-01 fake line\\r\\e[2J"
    );
    let table = inbox_table(&[evil], &utc());
    assert!(
        !table.chars().any(|c| c.is_control() && c != '\n'),
        "{table:?}"
    );
    assert_eq!(table.lines().count(), 2, "{table}");
}

#[test]
fn long_lines_are_cut_to_the_width() {
    let long = received(&"é".repeat(200));
    let line = message_line(&long, &TimeZone::UTC, Some(80));
    assert_eq!(console::measure_text_width(&line), 80, "{line}");
    assert!(line.ends_with("é…"), "{line}");
    let full = message_line(&long, &TimeZone::UTC, None);
    assert!(full.ends_with(&"é".repeat(200)));
}

#[test]
fn error_objects_are_stable() {
    assert_eq!(
        error_json("not_running", "x \"y\""),
        r#"{"error":{"code":"not_running","message":"x \"y\""}}"#
    );
}
