//! One message in the outbox's memory: its text, clocks, retransmission
//! delays, and whether a `send` caller waits for its outcome.

use std::time::{Duration, Instant};

use peerd_shared::control::{MsgStatus, PathKind, SendOutcome};
use peerd_shared::{MsgId, PeerId};

use crate::peer::core::clock::Now;
use crate::peer::core::timing::{Backoff, MESSAGE_TIMEOUTS};

/// A queued message.
#[derive(Debug)]
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
    pub(super) in_flight: bool,
    /// Waiting in its peer's queue for room in the window.
    pub(super) parked: bool,
    /// Retransmission timeouts: 200 ms doubling to 5 s.
    timeouts: Backoff,
    /// When this daemon queued (or resumed) it.
    pub enqueued: Instant,
    /// A `send` caller waits for the final outcome.
    pub waiting: bool,
    pub last_error: Option<String>,
}

impl OutMsg {
    /// A message stored at `enqueued`, not sent yet.
    pub fn new(
        to: PeerId,
        text: String,
        created_ms: u64,
        expires_ms: u64,
        enqueued: Instant,
    ) -> Self {
        Self {
            to,
            text,
            created_ms,
            expires_ms,
            attempts: 0,
            path_sends: 0,
            in_flight: false,
            parked: false,
            timeouts: MESSAGE_TIMEOUTS,
            enqueued,
            waiting: false,
            last_error: None,
        }
    }

    /// When the next send is due after one at `now` (the retransmission
    /// timeout doubles each time), but never later than the expiry.
    pub(super) fn next_due(&mut self, now: Now) -> Instant {
        let left = self.expires_ms.saturating_sub(now.unix_ms);
        let expiry = now.at + Duration::from_millis(left);
        (now.at + self.timeouts.next_delay()).min(expiry)
    }

    /// A new path: start the retransmission schedule over.
    pub fn restart(&mut self) {
        self.timeouts.reset();
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
            code: None,
        }
    }
}
