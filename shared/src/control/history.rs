//! Requests on the stored history: listings from a point in time
//! (`since_ms` on `inbox`, `outbox` and `follow`) and the removal of stored
//! messages (`inbox_delete`, `inbox_prune`, `outbox_delete`,
//! `outbox_prune`), described in `docs/control.md`.
//!
//! They extend [`Command`](super::Command) on the wire (same `cmd` tag, same
//! reply lines) and have their own type so that a daemon written before
//! them still builds. A daemon that does not serve one answers
//! `bad_request`, naming the unknown field or command;
//! [`is_unsupported`] recognises that answer so a client can say so, or
//! fall back (filter a full listing itself).

use serde::{Deserialize, Serialize};

use super::{ControlError, ErrorKind};
use crate::ids::{MsgId, PeerId};

/// One request line of this module: `req` as in [`super::Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req: Option<u64>,
    #[serde(flatten)]
    pub command: HistoryCommand,
}

/// What a history request asks for, tagged by `cmd`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum HistoryCommand {
    /// `inbox` with `since_ms`: messages received at or after it.
    Inbox {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<PeerId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
        /// Unix milliseconds, compared with `received_ms`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since_ms: Option<u64>,
    },
    /// `outbox` with `since_ms`: messages created at or after it.
    Outbox {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
        /// Unix milliseconds, compared with `created_ms`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since_ms: Option<u64>,
    },
    /// `follow` whose replay starts at `since_ms` (compared with
    /// `received_ms`); the live part is unchanged.
    Follow {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<PeerId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since_ms: Option<u64>,
    },
    /// Remove these received messages; ones not stored are not counted.
    InboxDelete { messages: Vec<MessageRef> },
    /// Remove the received messages stored more than `older_than_secs` ago.
    InboxPrune { older_than_secs: u64 },
    /// Remove these sent messages, whatever their status: a queued one is
    /// no longer sent, and a `send` waiting for it fails with `expired`.
    OutboxDelete { msgs: Vec<MsgId> },
    /// Remove the delivered and failed messages created more than
    /// `older_than_secs` ago; queued messages stay until their ttl.
    OutboxPrune { older_than_secs: u64 },
}

impl HistoryCommand {
    /// The `cmd` word of this request, as on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Inbox { .. } => "inbox",
            Self::Outbox { .. } => "outbox",
            Self::Follow { .. } => "follow",
            Self::InboxDelete { .. } => "inbox_delete",
            Self::InboxPrune { .. } => "inbox_prune",
            Self::OutboxDelete { .. } => "outbox_delete",
            Self::OutboxPrune { .. } => "outbox_prune",
        }
    }

    /// The wire word a daemon that does not serve this request names in
    /// its `bad_request` answer: the `since_ms` field for the listings,
    /// the command itself for the others.
    fn marker(&self) -> &'static str {
        match self {
            Self::Inbox { .. } | Self::Outbox { .. } | Self::Follow { .. } => "since_ms",
            other => other.name(),
        }
    }
}

/// A received message: its sender and the sender's message id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageRef {
    pub from: PeerId,
    pub msg: MsgId,
}

/// Whether `err` is a daemon's answer that it does not serve `command`
/// (it predates the request): `bad_request` naming the request's new
/// field or command.
pub fn is_unsupported(err: &ControlError, command: &HistoryCommand) -> bool {
    err.code == ErrorKind::BadRequest && err.message.contains(&format!("`{}`", command.marker()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_lines() {
        let r = HistoryRequest {
            req: Some(4),
            command: HistoryCommand::Inbox {
                from: None,
                limit: Some(20),
                since_ms: Some(1_795_000_000_000),
            },
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"req":4,"cmd":"inbox","limit":20,"since_ms":1795000000000}"#
        );
        let del: HistoryRequest =
            serde_json::from_str(r#"{"cmd":"inbox_delete","messages":[{"from":2,"msg":7}]}"#)
                .unwrap();
        assert_eq!(
            del.command,
            HistoryCommand::InboxDelete {
                messages: vec![MessageRef {
                    from: PeerId::new(2).unwrap(),
                    msg: MsgId(7)
                }]
            }
        );
        let prune = HistoryCommand::OutboxPrune {
            older_than_secs: 86_400,
        };
        assert_eq!(
            serde_json::to_string(&prune).unwrap(),
            r#"{"cmd":"outbox_prune","older_than_secs":86400}"#
        );
    }

    #[test]
    fn an_older_daemons_refusal_is_recognised() {
        let since = HistoryCommand::Outbox {
            limit: None,
            since_ms: Some(1),
        };
        let refusal = |m: &str| ControlError {
            code: ErrorKind::BadRequest,
            message: m.into(),
        };
        assert!(is_unsupported(
            &refusal("malformed request: unknown field `since_ms`"),
            &since
        ));
        let prune = HistoryCommand::InboxPrune { older_than_secs: 1 };
        assert!(is_unsupported(
            &refusal("malformed request: unknown variant `inbox_prune`, expected one of `id`"),
            &prune
        ));
        assert!(!is_unsupported(
            &refusal("malformed request: invalid type"),
            &prune
        ));
    }
}
