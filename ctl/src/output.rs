//! How `peerctl` shows results: aligned tables and short sentences for
//! people, or with `--json` exactly one JSON object per command (the
//! daemon's `result` object, or `{"error":{"code","message"}}`) and one
//! object per line for `inbox --follow`. The JSON shapes are documented in
//! `docs/control.md` and the README; keep them stable.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use peerd_shared::control::{
    Event, InboxEntry, ListedPeer, MsgStatus, OutboxEntry, PathKind, RegState, Response,
    SendOutcome, Status,
};
use serde::Serialize;

use crate::client::ClientError;

/// The JSON object printed for a failure.
#[derive(Debug, Serialize)]
struct ErrorObject<'a> {
    error: ErrorBody<'a>,
}

#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

/// `{"error":{"code":..,"message":..}}` on one line.
pub fn error_json(code: &str, message: &str) -> String {
    serde_json::to_string(&ErrorObject {
        error: ErrorBody { code, message },
    })
    .unwrap_or_else(|_| r#"{"error":{"code":"internal","message":"cannot encode error"}}"#.into())
}

/// The JSON line of a client error.
pub fn client_error_json(err: &ClientError) -> String {
    error_json(&err.code(), &err.to_string())
}

/// Any serialisable value on one line (a daemon `result`, an event).
pub fn json_line<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| error_json("internal", &e.to_string()))
}

/// The human rendering of a successful reply.
pub fn human(response: &Response) -> String {
    match response {
        Response::Id { id: Some(id) } => id.to_string(),
        Response::Id { id: None } => "no id yet: peerd has not registered with its server \
                                      (see `peerctl status`)"
            .into(),
        Response::Status(status) => status_text(status),
        Response::Peers { peers } => peers_table(peers),
        Response::Sent(outcome) => sent_text(outcome),
        Response::Outbox { messages } => outbox_table(messages),
        Response::Inbox { messages } => inbox_table(messages),
        Response::Following => "following the inbox".into(),
        Response::Stopping => "peerd is stopping (unregistering from the server)".into(),
        Response::Paths { peers } => crate::paths::peers_paths_table(peers),
        Response::Pong(pong) => crate::paths::pong_text(pong),
    }
}

fn status_text(s: &Status) -> String {
    let id =
        s.id.map_or_else(|| "none yet".to_string(), |id| id.to_string());
    let state = match (s.state, &s.reason) {
        (state, Some(reason)) => format!("{} ({reason})", state_name(state)),
        (state, None) => state_name(state).to_string(),
    };
    let rows = [
        ("id", id),
        ("server", s.server.clone()),
        ("state", state),
        (
            "public address",
            s.public_addr.clone().unwrap_or_else(|| "-".into()),
        ),
        ("local address", s.local_addr.clone()),
        (
            "uptime",
            crate::duration::format(Duration::from_secs(s.uptime_secs)),
        ),
        (
            "inbox",
            format!("{} message{}", s.inbox, if s.inbox == 1 { "" } else { "s" }),
        ),
        (
            "outbox",
            format!(
                "{} queued, {} delivered, {} failed",
                s.outbox_queued, s.outbox_delivered, s.outbox_failed
            ),
        ),
    ];
    let pid = s.pid.map(|p| ("pid", p.to_string()));
    rows.iter()
        .cloned()
        .chain(pid)
        .map(|(k, v)| format!("{:<15} {v}", format!("{k}:")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The name of a registration state, as in JSON.
pub fn state_name(state: RegState) -> &'static str {
    match state {
        RegState::Connecting => "connecting",
        RegState::Registered => "registered",
        RegState::Offline => "offline",
    }
}

fn path_name(path: Option<PathKind>) -> &'static str {
    match path {
        Some(PathKind::Direct) => "direct",
        Some(PathKind::Relayed) => "relayed",
        None => "-",
    }
}

fn status_name(status: MsgStatus) -> &'static str {
    match status {
        MsgStatus::Queued => "queued",
        MsgStatus::Delivered => "delivered",
        MsgStatus::Failed => "failed",
    }
}

/// The table of `list` (the original's LIST).
pub fn peers_table(peers: &[ListedPeer]) -> String {
    if peers.is_empty() {
        return "no other peers online".into();
    }
    table(
        &["ID", "ADDRESS"],
        peers
            .iter()
            .map(|p| vec![p.id.to_string(), p.addr.clone()])
            .collect(),
    )
}

/// One sentence about a `send`: `delivered to 2 (direct, 1.3 ms)`, or why
/// it is still queued and until when, or why it failed.
pub fn sent_text(o: &SendOutcome) -> String {
    match o.status {
        MsgStatus::Delivered => {
            let elapsed = o
                .elapsed_ms
                .map(|ms| format!(", {ms:.1} ms"))
                .unwrap_or_default();
            format!("delivered to {} ({}{elapsed})", o.to, path_name(o.path))
        }
        MsgStatus::Queued => {
            let why = o
                .note
                .as_deref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default();
            format!(
                "queued for {} as message {}{why}; it stays queued until {} UTC \
                 (see `peerctl outbox`)",
                o.to,
                o.msg,
                time(o.expires_ms)
            )
        }
        MsgStatus::Failed => {
            let why = o.note.as_deref().unwrap_or("it expired");
            format!("not delivered to {} (message {}): {why}", o.to, o.msg)
        }
    }
}

fn outbox_table(messages: &[OutboxEntry]) -> String {
    if messages.is_empty() {
        return "outbox is empty".into();
    }
    table(
        &[
            "MSG",
            "TO",
            "STATUS",
            "PATH",
            "TRIES",
            "CREATED (UTC)",
            "LAST ERROR",
            "TEXT",
        ],
        messages
            .iter()
            .map(|m| {
                vec![
                    m.msg.to_string(),
                    m.to.to_string(),
                    status_name(m.status).into(),
                    path_name(m.path).into(),
                    m.attempts.to_string(),
                    time(m.created_ms),
                    m.last_error.clone().unwrap_or_else(|| "-".into()),
                    m.text.clone(),
                ]
            })
            .collect(),
    )
}

fn inbox_table(messages: &[InboxEntry]) -> String {
    if messages.is_empty() {
        return "inbox is empty".into();
    }
    table(
        &["FROM", "ADDRESS", "RECEIVED (UTC)", "TEXT"],
        messages
            .iter()
            .map(|m| {
                vec![
                    m.from.to_string(),
                    match m.path {
                        PathKind::Direct => m.addr.clone(),
                        PathKind::Relayed => format!("{} (relayed)", m.addr),
                    },
                    time(m.received_ms),
                    m.text.clone(),
                ]
            })
            .collect(),
    )
}

/// One received message on one line, as `inbox --follow` and the shell
/// print it: `2026-11-22 05:20:01 message from 1 (127.0.0.1:35213): hi`.
pub fn message_line(m: &InboxEntry) -> String {
    format!(
        "{} message from {} ({}{}): {}",
        time(m.received_ms),
        m.from,
        m.addr,
        if m.path == PathKind::Relayed {
            ", relayed"
        } else {
            ""
        },
        m.text
    )
}

/// The human line of a follow event, `None` for events people need not see.
pub fn event_line(event: &Event) -> Option<String> {
    match event {
        Event::Message { message } => Some(message_line(message)),
        Event::Live | Event::Closing | Event::Overflow => None,
    }
}

/// Columns padded to their widest cell; the last column is not padded.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let render = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut line = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        line
    };
    let mut lines = vec![render(headers.to_vec())];
    lines.extend(
        rows.iter()
            .map(|r| render(r.iter().map(String::as_str).collect())),
    );
    lines.join("\n")
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn time(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Days since 1970-01-01 to a (year, month, day) date: Howard Hinnant's
/// `civil_from_days`, for non-negative day counts.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerd_shared::{MsgId, PeerId};

    #[test]
    fn times_are_utc_dates() {
        assert_eq!(time(0), "1970-01-01 00:00:00");
        assert_eq!(time(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(time(1_795_000_000_123), "2026-11-18 11:06:40");
    }

    #[test]
    fn sentences_and_tables() {
        let to = PeerId::new(2).expect("id");
        let mut outcome = SendOutcome {
            to,
            msg: MsgId(5),
            status: MsgStatus::Delivered,
            path: Some(PathKind::Direct),
            elapsed_ms: Some(1.34),
            note: None,
            expires_ms: 0,
        };
        assert_eq!(sent_text(&outcome), "delivered to 2 (direct, 1.3 ms)");
        outcome.status = MsgStatus::Queued;
        outcome.note = Some("peer 2 is offline".into());
        assert!(sent_text(&outcome).starts_with("queued for 2 as message 5: peer 2 is offline"));
        let peers = vec![
            ListedPeer {
                id: to,
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
    }

    #[test]
    fn error_objects_are_stable() {
        assert_eq!(
            error_json("not_running", "x \"y\""),
            r#"{"error":{"code":"not_running","message":"x \"y\""}}"#
        );
    }
}
