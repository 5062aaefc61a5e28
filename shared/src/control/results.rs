//! The results inside a [`Response`](super::Response): a key, a trust
//! change, paths, a ping, the status, listings of peers and messages, the
//! outcome of a send.

use serde::{Deserialize, Serialize};

use super::ErrorKind;
use crate::ids::{MsgId, PeerId};

/// Answer to `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// The peer asked about; absent for the daemon's own key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<PeerId>,
    /// The key (own or pinned), 44 characters of base64.
    pub key: String,
    /// Its fingerprint, eight groups of four hex digits.
    pub fingerprint: String,
    /// Another key the server gave for the peer: the peer is refused until
    /// `trust` pins it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered_fingerprint: Option<String>,
}

/// Answer to `trust`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trusted {
    pub id: PeerId,
    /// The key now pinned.
    pub key: String,
    pub fingerprint: String,
    /// The fingerprint of the key it replaced; absent when the key had not
    /// changed (then nothing was done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<String>,
}

/// How many stored messages a delete or prune request removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleted {
    pub deleted: u64,
}

/// How a peer is reached right now (`peers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathWord {
    Direct,
    Relayed,
    None,
}

/// One entry of `peers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerPathInfo {
    pub id: PeerId,
    /// `direct`, `relayed` or `none`.
    pub path: PathWord,
    /// The direct address, when `direct`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// Finer state: `direct`, `relayed`, `punching`, `connecting`,
    /// `waiting`, `unknown`.
    pub state: String,
    /// Round-trip time of the last answered probe, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// When the peer was last heard from directly (or acknowledged a
    /// message), Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_ms: Option<u64>,
    /// Why the path is relayed or missing (e.g. `punch timed out after 3 s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Messages to this peer waiting for acknowledgement.
    pub queued: u64,
}

/// Answer to `ping`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PingOutcome {
    pub to: PeerId,
    pub path: PathKind,
    /// The direct address probed, when `direct`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    pub rtt_ms: f64,
}

/// The registration state of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegState {
    /// Sending REGISTER, no answer yet.
    Connecting,
    /// Registered; keepalives are answered.
    Registered,
    /// The server does not answer or refused; see `reason`.
    Offline,
}

/// Answer to `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub id: Option<PeerId>,
    /// The server address as configured (`host:port`).
    pub server: String,
    pub state: RegState,
    /// Why the daemon is offline, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The address the server observed, when registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_addr: Option<String>,
    /// The daemon's own UDP address.
    pub local_addr: String,
    pub uptime_secs: u64,
    pub inbox: u64,
    pub outbox_queued: u64,
    pub outbox_delivered: u64,
    pub outbox_failed: u64,
    /// The daemon's process id (useful after `--detach`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// This daemon's public key (base64) and its fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The server's key as pinned, when known, and its fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_fingerprint: Option<String>,
}

/// One entry of `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedPeer {
    pub id: PeerId,
    pub addr: String,
}

/// How a message travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathKind {
    Direct,
    Relayed,
}

/// Where a queued message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MsgStatus {
    Queued,
    Delivered,
    Failed,
}

/// Answer to `send`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendOutcome {
    pub to: PeerId,
    pub msg: MsgId,
    pub status: MsgStatus,
    /// The path that delivered it (when delivered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathKind>,
    /// Milliseconds from queueing to acknowledgement (when delivered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<f64>,
    /// Why it is still queued or failed (e.g. "peer 2 is offline").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Unix milliseconds after which a queued message fails.
    pub expires_ms: u64,
    /// Why a failed message failed, as an error code: `expired`,
    /// `unknown_peer` (the id was never registered) or `key_changed` (the
    /// peer's key changed before it was delivered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ErrorKind>,
}

/// One entry of `outbox`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub msg: MsgId,
    pub to: PeerId,
    pub text: String,
    pub status: MsgStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathKind>,
    pub attempts: u32,
    /// Unix milliseconds.
    pub created_ms: u64,
    pub expires_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// One received message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxEntry {
    pub from: PeerId,
    pub msg: MsgId,
    pub text: String,
    /// The address it came from (the server's when relayed).
    pub addr: String,
    pub path: PathKind,
    /// The sender's clock, Unix milliseconds.
    pub sent_ms: u64,
    /// This daemon's clock at storage, Unix milliseconds.
    pub received_ms: u64,
}
