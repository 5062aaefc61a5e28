//! The control protocol between `peerctl` (or any program) and the peer
//! daemon over its Unix domain socket: one JSON object per line.
//!
//! Every [`Request`] gets exactly one [`Reply`] line, in order. A `follow`
//! request is answered with `following`, then every stored message as an
//! [`Event`] line (the replay), then new messages as they arrive, until the
//! client disconnects. A request line is at most [`MAX_LINE`] bytes, a
//! reply or event line at most [`MAX_REPLY_LINE`]. The full, stable
//! description is in `docs/control.md`.
//!
//! This file holds the requests, replies, errors and events;
//! `control/results.rs` the results a [`Response`] carries;
//! `control/history.rs` the requests on the stored history;
//! `control/tests.rs` the unit tests.

use serde::{Deserialize, Serialize};

use crate::ids::PeerId;

pub mod history;
mod results;

pub use results::{
    Deleted, InboxEntry, KeyInfo, ListedPeer, MsgStatus, OutboxEntry, PathKind, PathWord,
    PeerPathInfo, PingOutcome, RegState, SendOutcome, Status, Trusted,
};

/// Longest request line the daemon accepts, in bytes (without the newline).
pub const MAX_LINE: usize = 64 * 1024;

/// Longest reply or event line the daemon writes, in bytes (without the
/// newline), and so the longest a client must accept: a listing of the
/// whole store is one line (about 60,000 messages of 1000 bytes). A reply
/// that would be longer is refused with `reply_too_large`.
pub const MAX_REPLY_LINE: usize = 64 * 1024 * 1024;

/// Default time a queued message waits for delivery before it fails.
pub const DEFAULT_TTL_SECS: u64 = 3600;

/// Longest time a message may stay queued: 30 days. A receiver keeps the
/// ids of the messages it deleted a little longer than this, so that a
/// retransmission of one is never stored again.
pub const MAX_TTL_SECS: u64 = 30 * 86_400;

/// One request line. `req` is optional and echoed in the reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req: Option<u64>,
    #[serde(flatten)]
    pub command: Command,
}

/// What a request asks for, tagged by `cmd`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Own id (the original's MY ID).
    Id,
    /// Registration state, addresses, uptime and store counts.
    Status,
    /// Other online peers, every page of LIST.
    List,
    /// Queue a text for a peer; with `wait`, reply once it is acknowledged
    /// (or known to be undeliverable for now).
    Send {
        to: PeerId,
        text: String,
        /// Seconds the message may stay queued; default [`DEFAULT_TTL_SECS`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttl_secs: Option<u64>,
        #[serde(default)]
        wait: bool,
    },
    /// Queued, delivered and failed messages, newest last.
    Outbox {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Received messages, oldest first; `limit` keeps the newest N.
    Inbox {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<PeerId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Like `inbox`, then keep streaming new messages as events.
    Follow {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<PeerId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Unregister from the server and exit (the original's EXIT).
    Stop,
    /// How each known peer is reached: path, round trip, last seen, why.
    Peers,
    /// Measure the round trip to a peer over its current path.
    Ping { to: PeerId },
    /// A public key and its fingerprint: this daemon's own without `id`,
    /// else the one pinned for that peer (and another the server offers
    /// instead, when its key changed).
    Key {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<PeerId>,
    },
    /// Pin the key the server now offers for a peer whose key changed, so
    /// messages flow again. With `fingerprint` (or a whole base64 key), only
    /// when the offered key is that one.
    Trust {
        id: PeerId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fingerprint: Option<String>,
    },
}

/// One reply line: `{"ok":true,"result":{..}}` or `{"ok":false,"error":{..}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req: Option<u64>,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Response>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ControlError>,
}

impl Reply {
    /// A success reply.
    pub fn ok(req: Option<u64>, result: Response) -> Self {
        Self {
            req,
            ok: true,
            result: Some(result),
            error: None,
        }
    }

    /// A failure reply.
    pub fn err(req: Option<u64>, code: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            req,
            ok: false,
            result: None,
            error: Some(ControlError {
                code,
                message: message.into(),
            }),
        }
    }

    /// The outcome as a `Result`.
    pub fn into_result(self) -> Result<Response, ControlError> {
        match (self.result, self.error) {
            (Some(r), None) if self.ok => Ok(r),
            (_, Some(e)) => Err(e),
            _ => Err(ControlError {
                code: ErrorKind::Internal,
                message: "malformed reply from the daemon".into(),
            }),
        }
    }
}

/// A failure: a stable `code` for programs and a `message` for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ControlError {
    pub code: ErrorKind,
    pub message: String,
}

/// Stable error codes of the control protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The line is not a valid request (not JSON, unknown fields, wrong types).
    BadRequest,
    /// The line exceeds [`MAX_LINE`].
    LineTooLong,
    /// The text exceeds the protocol's 1000-byte limit (or the datagram limit).
    TextTooLong,
    /// The server has never registered that id.
    UnknownPeer,
    /// The target is this daemon itself.
    SelfTarget,
    /// The daemon is not registered with its server right now.
    NotRegistered,
    /// The message could not be delivered before its expiry.
    Expired,
    /// The daemon's store failed (disk full, I/O error); nothing was accepted.
    Storage,
    /// The daemon is shutting down.
    ShuttingDown,
    /// `ping`: no path to the peer, or no answer in time (the message says
    /// why).
    Unreachable,
    /// The server gave another key for the peer than the one pinned: the
    /// peer is refused until the user trusts the new key.
    KeyChanged,
    /// The reply would be longer than [`MAX_REPLY_LINE`]: ask for fewer
    /// messages (`limit`, `since_ms`).
    ReplyTooLarge,
    /// Anything else; the message says what.
    Internal,
    /// A code this client does not know (received only).
    #[serde(other)]
    Unknown,
}

/// The result of a successful request, tagged by `kind`: the name of the
/// command it answers (`list` -> `list`, `peers` -> `peers`, `send` ->
/// `send`, ...). The Rust names are older than that rule and kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    Id {
        /// `None` until the daemon has registered once.
        id: Option<PeerId>,
        /// This daemon's public key, base64 (its identity from v2 on).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fingerprint: Option<String>,
    },
    Status(Status),
    /// Answer to `list`.
    #[serde(rename = "list")]
    Peers {
        peers: Vec<ListedPeer>,
    },
    /// Answer to `send`.
    #[serde(rename = "send")]
    Sent(SendOutcome),
    Outbox {
        messages: Vec<OutboxEntry>,
    },
    Inbox {
        messages: Vec<InboxEntry>,
    },
    /// Answer to `follow`; events follow.
    #[serde(rename = "follow")]
    Following,
    /// Answer to `stop`; the daemon exits after it.
    #[serde(rename = "stop")]
    Stopping,
    /// Answer to `peers`.
    #[serde(rename = "peers")]
    Paths {
        peers: Vec<PeerPathInfo>,
    },
    /// Answer to `ping`.
    #[serde(rename = "ping")]
    Pong(PingOutcome),
    /// Answer to `inbox_delete` ([`history::HistoryCommand`]).
    InboxDelete(Deleted),
    /// Answer to `inbox_prune`.
    InboxPrune(Deleted),
    /// Answer to `outbox_delete`.
    OutboxDelete(Deleted),
    /// Answer to `outbox_prune`.
    OutboxPrune(Deleted),
    /// Answer to `key`.
    Key(KeyInfo),
    /// Answer to `trust`.
    Trust(Trusted),
}

/// A line the daemon pushes to a follower after `following`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A stored message (replayed or new).
    Message { message: InboxEntry },
    /// The replay is over; what follows is new.
    Live,
    /// The daemon is stopping; no more events.
    Closing,
    /// This follower fell too far behind (its buffer of pending events
    /// filled up); the daemon ends the stream. Follow again to catch up.
    Overflow,
}

#[cfg(test)]
mod tests;
