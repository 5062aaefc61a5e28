//! The time as the core sees it. The core never reads a clock: every input
//! carries a [`Now`], read once by the actor that feeds it (or advanced by
//! hand in the fake-clock tests). Timers run on the monotonic clock; what
//! users see (message times, expiry) is in Unix milliseconds.

use std::time::{Duration, Instant};

/// One reading of both clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// The monotonic clock: every timer and interval.
    pub at: Instant,
    /// The wall clock in Unix milliseconds: `ts`, `created_ms`, `expires_ms`.
    pub unix_ms: u64,
}

impl Now {
    /// Both clocks `d` later.
    pub fn after(self, d: Duration) -> Self {
        Self {
            at: self.at + d,
            unix_ms: self
                .unix_ms
                .saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }

    /// The Unix milliseconds of an earlier instant `t`.
    pub fn unix_ms_of(self, t: Instant) -> u64 {
        let ago = self.at.saturating_duration_since(t).as_millis();
        self.unix_ms
            .saturating_sub(u64::try_from(ago).unwrap_or(u64::MAX))
    }
}

/// A core with timers: its driver (an actor, or a fake-clock test) asks
/// [`poll_timeout`](Deadlines::poll_timeout) when to come back, and calls
/// [`handle_timeout`](Deadlines::handle_timeout) once that instant has
/// passed. Calling it early does nothing that is not due.
pub trait Deadlines {
    /// When [`Deadlines::handle_timeout`] must run next (`None`: nothing
    /// is waiting).
    fn poll_timeout(&mut self) -> Option<Instant>;
    /// Does what is due at `now`.
    fn handle_timeout(&mut self, now: Now);
}

/// A Unix-millisecond time as `YYYY-MM-DD HH:MM:SS UTC`, for notes to people.
pub fn format_ms(ms: u64) -> String {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        Err(_) => format!("{ms} ms after 1970"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(format_ms(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_ms(1_700_000_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(format_ms(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert!(format_ms(u64::MAX).contains("after 1970"));
    }

    #[test]
    fn both_clocks_advance_together() {
        let now = Now {
            at: Instant::now(),
            unix_ms: 1_000,
        };
        let later = now.after(Duration::from_millis(250));
        assert_eq!(later.unix_ms, 1_250);
        assert_eq!(later.unix_ms_of(now.at), 1_000);
    }
}
