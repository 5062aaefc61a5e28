//! Two small meters of the core: [`LoadMeter`] decides when the server is
//! under load and demands cookies (protocol v2, section 3.4), and
//! [`LogLimiter`] keeps log lines about dropped datagrams to one per second
//! per reason, so a flood cannot fill the log.

use std::collections::HashMap;

/// Counts handshakes with a good `mac1` over a sliding second.
#[derive(Debug)]
pub struct LoadMeter {
    /// More than this many in the last second: under load (0: never).
    threshold: u64,
    second: u64,
    this: u64,
    previous: u64,
}

impl LoadMeter {
    pub fn new(threshold: u32) -> Self {
        Self {
            threshold: u64::from(threshold),
            second: 0,
            this: 0,
            previous: 0,
        }
    }

    /// Counts one handshake at `now_ms`; true if the server is under load.
    pub fn record(&mut self, now_ms: u64) -> bool {
        if self.threshold == 0 {
            return false;
        }
        let second = now_ms / 1000;
        if second != self.second {
            self.previous = if second == self.second + 1 {
                self.this
            } else {
                0
            };
            self.this = 0;
            self.second = second;
        }
        self.this += 1;
        // The previous second weighs by how much of it the sliding window
        // still covers.
        let left = 1000 - now_ms % 1000;
        self.this + self.previous * left / 1000 > self.threshold
    }
}

/// One log line per second per reason, with the count of those skipped.
#[derive(Debug, Default)]
pub struct LogLimiter {
    reasons: HashMap<&'static str, (u64, u64)>,
}

impl LogLimiter {
    /// `Some(skipped)` when a line about `reason` may be logged at `now_ms`
    /// (`skipped` lines were suppressed since the last one); `None` to stay
    /// quiet.
    pub fn allow(&mut self, reason: &'static str, now_ms: u64) -> Option<u64> {
        let (second, skipped) = self.reasons.entry(reason).or_insert((u64::MAX, 0));
        if *second == now_ms / 1000 {
            *skipped += 1;
            return None;
        }
        *second = now_ms / 1000;
        Some(std::mem::take(skipped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_starts_above_the_threshold_and_fades_with_time() {
        let mut m = LoadMeter::new(3);
        assert!(!m.record(0) && !m.record(1) && !m.record(2));
        assert!(m.record(3), "a fourth within the second");
        assert!(m.record(1100), "the previous second still counts");
        assert!(!m.record(5000), "quiet again");
        let mut off = LoadMeter::new(0);
        assert!((0..10_000).all(|i| !off.record(i)));
    }

    #[test]
    fn one_line_per_second_per_reason() {
        let mut l = LogLimiter::default();
        assert_eq!(l.allow("junk", 10), Some(0));
        assert_eq!(l.allow("junk", 20), None);
        assert_eq!(l.allow("junk", 30), None);
        assert_eq!(l.allow("other", 30), Some(0));
        assert_eq!(l.allow("junk", 1000), Some(2));
    }
}
