//! Timing rules of the protocol in one place: request retransmission
//! (protocol.md 2), message retransmission and hole punching (section 3),
//! path upkeep, and [`Backoff`], the doubling delay every retransmission
//! and retry of the core is timed by (armed on [`super::timers::Timers`]).

use std::time::Duration;

/// Retransmission timeouts of a request to the server: 250 ms doubling
/// (the fifth and last try's is 4 s).
pub const REQUEST_TIMEOUTS: Backoff =
    Backoff::new(Duration::from_millis(250), Duration::from_secs(4));
/// Tries of one request (the first send included).
pub const REQUEST_TRIES: u32 = 5;
/// Waits between REGISTER tries while the server does not answer, and
/// between lookups of a peer that could not be reached: 500 ms doubling
/// to 5 s.
pub const RETRY_DELAYS: Backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
/// Retransmission timeouts of a MESSAGE: 200 ms doubling to 5 s.
pub const MESSAGE_TIMEOUTS: Backoff =
    Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
/// Period of PUNCH probes.
pub const PUNCH_INTERVAL: Duration = Duration::from_millis(200);
/// How long a punch may take before the outbox falls back to RELAY.
pub const PUNCH_WINDOW: Duration = Duration::from_secs(3);
/// Unacknowledged sends on a path before it is considered broken and the
/// peer is looked up again (CONNECT).
pub const PATH_FAILURE_SENDS: u32 = 4;

/// A direct path in use gets a PUNCH at least this often: below the 25 s
/// issue 4 asks for, and well below the 30 s Linux keeps an unanswered UDP
/// mapping (home routers: often 30-60 s).
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
/// A path carried a message within this long: it is "in use" (kept alive,
/// re-punched, upgraded).
pub const PATH_IDLE: Duration = Duration::from_secs(120);
/// Nothing heard on a direct path in use for two keepalive intervals and
/// this long: look the peer up and punch again.
pub const PATH_SILENT_MARGIN: Duration = Duration::from_secs(10);

/// How long a direct path in use may stay silent before it is re-punched,
/// for a keepalive interval (40 s for the default 15 s).
pub fn path_silent(keepalive: Duration) -> Duration {
    keepalive * 2 + PATH_SILENT_MARGIN
}
/// A relayed path in use tries to become direct this often, for a
/// keepalive interval (30 s for the default 15 s).
pub fn upgrade_interval(keepalive: Duration) -> Duration {
    keepalive * 2
}
/// How long `ping` waits for an answer.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// Probes one `ping` sends, spread over [`PING_TIMEOUT`].
pub const PING_PROBES: u32 = 4;

/// A delay that doubles on every use, between `min` and `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Starts at `min`.
    pub const fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            next: min,
        }
    }

    /// The delay to wait now; the following one is twice as long (capped).
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    /// The first delay.
    #[cfg(test)]
    pub fn first(&self) -> Duration {
        self.min
    }

    /// Back to `min` after a success.
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        let seen: Vec<u64> = (0..5).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(seen, [1, 2, 4, 5, 5]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }
}
