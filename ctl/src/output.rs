//! How `peerctl` shows results: aligned tables and short sentences for
//! people, or with `--json` exactly one JSON object per command (the
//! daemon's `result` object, or `{"error":{"code","message"}}`) and one
//! object per line for `inbox --follow` and `ping -c N`. The JSON shapes
//! are documented in `docs/control.md` and the README; keep them stable.
//!
//! Human output never shows a text as received: control characters are
//! escaped (`peerd_shared::text`), times are in the local zone (or UTC),
//! and on a terminal the text column is cut to the terminal's width
//! ([`View`]). JSON keeps the exact text.
//!
//! This file holds the human output; `output/json.rs` the JSON helpers;
//! `output/tests.rs` the unit tests.

use std::time::Duration;

use jiff::tz::TimeZone;
use peerd_shared::control::{
    Event, InboxEntry, KeyInfo, ListedPeer, MsgStatus, OutboxEntry, PathKind, RegState, Response,
    SendOutcome, Status, Trusted,
};
use peerd_shared::text::escape_control;

pub use crate::view::View;
use crate::view::MIN_TEXT_WIDTH;
use crate::when::{format_duration, time};

mod json;

pub use json::{client_error_json, error_json, json_line, rounded};

/// A time in milliseconds as ping(8) prints it, to three significant
/// digits or whole milliseconds: `0.061 ms`, `1.34 ms`, `12.5 ms`, `130 ms`.
pub fn ms(ms: f64) -> String {
    let digits = match ms {
        m if m >= 100.0 => 0,
        m if m >= 10.0 => 1,
        m if m >= 1.0 => 2,
        _ => 3,
    };
    format!("{ms:.digits$} ms")
}

/// The human rendering of a successful reply.
pub fn human(response: &Response, view: &View) -> String {
    match response {
        Response::Id { id: Some(id), .. } => id.to_string(),
        Response::Id { id: None, .. } => "no id yet: peerd has not registered with its server \
                                      (see `peerctl status`)"
            .into(),
        Response::Status(status) => status_text(status),
        Response::Peers { peers } => peers_table(peers),
        Response::Sent(outcome) => sent_text(outcome, view),
        Response::Outbox { messages } => outbox_table(messages, view),
        Response::Inbox { messages } => inbox_table(messages, view),
        Response::Following => "following the inbox".into(),
        Response::Stopping => "peerd is stopping (unregistering from the server)".into(),
        Response::Paths { peers } => crate::paths::peers_paths_table(peers),
        Response::Pong(pong) => crate::paths::pong_text(pong),
        Response::InboxDelete(d) => count(d.deleted, "received message", "deleted"),
        Response::InboxPrune(d) => count(d.deleted, "received message", "pruned"),
        Response::OutboxDelete(d) => count(d.deleted, "sent message", "deleted"),
        Response::OutboxPrune(d) => count(d.deleted, "sent message", "pruned"),
        Response::Key(k) => key_text(k),
        Response::Trust(t) => trusted_text(t),
    }
}

fn key_text(k: &KeyInfo) -> String {
    let mut rows = vec![
        match k.id {
            Some(id) => ("peer", id.to_string()),
            None => ("peer", "this daemon".to_string()),
        },
        ("key", k.key.clone()),
        ("fingerprint", k.fingerprint.clone()),
    ];
    if let (Some(offered), Some(fp), Some(id)) = (&k.offered, &k.offered_fingerprint, k.id) {
        rows.push(("offered key", offered.clone()));
        rows.push(("offered print", fp.clone()));
        rows.push((
            "state",
            format!(
                "KEY CHANGED: the server now gives another key for peer {id}; messages are \
                 refused until you confirm the offered fingerprint with its owner and run \
                 `peerctl trust {id} {fp}`"
            ),
        ));
    } else if let Some(id) = k.id {
        rows.push((
            "state",
            format!("pinned (messages to and from peer {id} use this key)"),
        ));
    }
    rows.iter()
        .map(|(k, v)| format!("{:<15} {v}", format!("{k}:")))
        .collect::<Vec<_>>()
        .join("\n")
}

fn trusted_text(t: &Trusted) -> String {
    match &t.replaced {
        Some(old) => format!(
            "peer {}: now trusting key {} (replacing {old})",
            t.id, t.fingerprint
        ),
        None => format!(
            "peer {}: key {} had not changed; nothing to trust",
            t.id, t.fingerprint
        ),
    }
}

/// `deleted 3 received messages`, `pruned 1 sent message`.
fn count(n: u64, what: &str, verb: &str) -> String {
    format!("{verb} {n} {what}{}", if n == 1 { "" } else { "s" })
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
            format_duration(Duration::from_secs(s.uptime_secs)),
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
    let key = s.fingerprint.clone().map(|fp| ("key", fp));
    let server_key = s.key.as_ref().map(|_| {
        (
            "server key",
            s.server_fingerprint
                .clone()
                .unwrap_or_else(|| "not known yet (asked on first contact)".into()),
        )
    });
    rows.iter()
        .cloned()
        .chain(key)
        .chain(server_key)
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
        None,
    )
}

/// One sentence about a `send`: `delivered to 2 (direct, 1.34 ms)`, why
/// it is still queued and until when, or why it failed.
pub fn sent_text(o: &SendOutcome, view: &View) -> String {
    let until = time(o.expires_ms, &view.zone);
    match (o.status, o.note.as_deref()) {
        (MsgStatus::Delivered, _) => {
            let elapsed = o
                .elapsed_ms
                .map(|t| format!(", {}", ms(t)))
                .unwrap_or_default();
            format!("delivered to {} ({}{elapsed})", o.to, path_name(o.path))
        }
        (MsgStatus::Queued, Some(note)) => {
            // The daemon's note may end with its own "queued until" (in
            // UTC): the sentence says it once, in the shown zone.
            let why = note.split_once("; queued until ").map_or(note, |(w, _)| w);
            format!(
                "queued for {} as message {}: {}; it stays queued until {until} \
                 (see `peerctl outbox`)",
                o.to,
                o.msg,
                escape_control(why)
            )
        }
        // Nothing stands in its way (`--no-wait`): how long it may wait
        // is not news.
        (MsgStatus::Queued, None) => format!(
            "queued for {} as message {}; peerd delivers it in the background \
             (see `peerctl outbox`)",
            o.to, o.msg
        ),
        (MsgStatus::Failed, note) => format!(
            "not delivered to {} (message {}): {}",
            o.to,
            o.msg,
            escape_control(note.unwrap_or("it expired"))
        ),
    }
}

fn outbox_table(messages: &[OutboxEntry], view: &View) -> String {
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
            "CREATED",
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
                    time(m.created_ms, &view.zone),
                    m.last_error
                        .as_deref()
                        .map_or_else(|| "-".into(), |e| escape_control(e).into_owned()),
                    escape_control(&m.text).into_owned(),
                ]
            })
            .collect(),
        view.width(),
    )
}

fn inbox_table(messages: &[InboxEntry], view: &View) -> String {
    if messages.is_empty() {
        return "inbox is empty".into();
    }
    table(
        &["FROM", "MSG", "ADDRESS", "RECEIVED", "TEXT"],
        messages
            .iter()
            .map(|m| {
                vec![
                    m.from.to_string(),
                    m.msg.to_string(),
                    match m.path {
                        PathKind::Direct => m.addr.clone(),
                        PathKind::Relayed => format!("{} (relayed)", m.addr),
                    },
                    time(m.received_ms, &view.zone),
                    escape_control(&m.text).into_owned(),
                ]
            })
            .collect(),
        view.width(),
    )
}

/// One received message on one line, as `inbox --follow` and the shell
/// print it: `2026-11-22 06:20:01 CET message from 1 (127.0.0.1:35213): hi`,
/// cut to `width` when given.
pub fn message_line(m: &InboxEntry, zone: &TimeZone, width: Option<usize>) -> String {
    let head = format!(
        "{} message from {} ({}{}): ",
        time(m.received_ms, zone),
        m.from,
        m.addr,
        if m.path == PathKind::Relayed {
            ", relayed"
        } else {
            ""
        },
    );
    let text = escape_control(&m.text);
    match width {
        Some(w) => {
            let room = w
                .saturating_sub(console::measure_text_width(&head))
                .max(MIN_TEXT_WIDTH);
            format!("{head}{}", console::truncate_str(&text, room, "…"))
        }
        None => format!("{head}{text}"),
    }
}

/// The human line of a follow event, `None` for events people need not see.
pub fn event_line(event: &Event, view: &View) -> Option<String> {
    match event {
        Event::Message { message } => Some(message_line(message, &view.zone, view.width())),
        Event::Live | Event::Closing | Event::Overflow => None,
    }
}

/// Columns padded to their widest cell; the last column is not padded,
/// and is cut (ending in `…`) so that each line fits `width` columns.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>, width: Option<usize>) -> String {
    let mut widths: Vec<usize> = headers
        .iter()
        .map(|h| console::measure_text_width(h))
        .collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(console::measure_text_width(cell));
        }
    }
    let last = headers.len().saturating_sub(1);
    let lead: usize = widths[..last].iter().map(|w| w + 2).sum();
    let room = width.map(|w| w.saturating_sub(lead).max(MIN_TEXT_WIDTH));
    let render = |cells: Vec<&str>| {
        let mut line = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                match room {
                    Some(room) => line.push_str(&console::truncate_str(cell, room, "…")),
                    None => line.push_str(cell),
                }
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(w - console::measure_text_width(cell) + 2));
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

#[cfg(test)]
mod tests;
