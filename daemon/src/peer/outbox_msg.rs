//! One message in the outbox's memory: its text, clocks, retransmission
//! timer and the `send` callers waiting for its outcome.

use std::time::{Duration, Instant};

use peerd_shared::control::{MsgStatus, PathKind, SendOutcome};
use peerd_shared::{MsgId, PeerId};
use tokio::sync::oneshot;

use super::retry::{doubled, MESSAGE_TIMEOUT, MESSAGE_TIMEOUT_MAX};
use super::store::QueuedRow;

/// What a lookup (CONNECT) found out about a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Registered (online or offline): messages may be queued for it.
    Found,
    /// Never registered with the server.
    Unknown,
    /// Registered but offline: messages are queued until it comes back.
    Offline(String),
    /// The server could not be asked.
    Unreachable(String),
}

/// A queued message.
pub struct OutMsg {
    pub to: PeerId,
    pub text: String,
    /// Unix ms at queueing; also the MESSAGE's `ts`.
    pub created_ms: u64,
    /// Unix ms after which it fails.
    pub expires_ms: u64,
    /// Sends so far.
    pub attempts: u32,
    /// Sends on the current path.
    pub path_sends: u32,
    /// Counted in its peer's window of unacknowledged messages.
    pub in_flight: bool,
    /// Waiting in its peer's queue for room in the window.
    pub parked: bool,
    /// Next retransmission timeout.
    pub timeout: Duration,
    /// When the next send is due.
    pub due: Instant,
    /// When this daemon queued (or resumed) it.
    pub enqueued: Instant,
    pub waiters: Vec<oneshot::Sender<SendOutcome>>,
    pub last_error: Option<String>,
}

impl OutMsg {
    /// A freshly queued message.
    pub fn new(to: PeerId, text: String, created_ms: u64, expires_ms: u64) -> Self {
        let now = Instant::now();
        Self {
            to,
            text,
            created_ms,
            expires_ms,
            attempts: 0,
            path_sends: 0,
            in_flight: false,
            parked: false,
            timeout: MESSAGE_TIMEOUT,
            due: now,
            enqueued: now,
            waiters: Vec::new(),
            last_error: None,
        }
    }

    /// A message loaded from the store after a restart.
    pub fn resumed(row: QueuedRow) -> Self {
        Self::new(row.to, row.text, row.created_ms, row.expires_ms)
    }

    /// Sets the next send after the current timeout and doubles it.
    pub fn schedule(&mut self, now: Instant) -> Instant {
        self.due = now + self.timeout;
        self.timeout = doubled(self.timeout, MESSAGE_TIMEOUT_MAX);
        self.due
    }

    /// A new path: start the retransmission schedule over.
    pub fn restart(&mut self) {
        self.timeout = MESSAGE_TIMEOUT;
        self.path_sends = 0;
    }

    /// The `send` answer for this message.
    pub fn outcome(
        &self,
        msg: MsgId,
        status: MsgStatus,
        delivered: Option<(PathKind, f64)>,
        note: Option<String>,
    ) -> SendOutcome {
        SendOutcome {
            to: self.to,
            msg,
            status,
            path: delivered.map(|d| d.0),
            elapsed_ms: delivered.map(|d| d.1),
            note,
            expires_ms: self.expires_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retransmission_doubles_to_the_cap_and_restarts() {
        let mut m = OutMsg::new(PeerId::new(2).unwrap(), "x".into(), 0, 1);
        let now = Instant::now();
        let gaps: Vec<u128> = (0..7)
            .map(|_| (m.schedule(now) - now).as_millis())
            .collect();
        assert_eq!(gaps, [200, 400, 800, 1600, 3200, 5000, 5000]);
        m.restart();
        assert_eq!(m.schedule(now) - now, MESSAGE_TIMEOUT);
    }
}
