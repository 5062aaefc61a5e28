//! The timing of REGISTER handshakes (docs/protocol.md 9): a round is five
//! INITs, 250, 500, 1000 and 2000 ms apart; it is unanswered 4 s after its
//! fifth (7.75 s after its first); the next round starts 0.5 s later, the
//! gap doubling up to 5 s, for as long as the daemon runs. Every try is a
//! new INIT (or, while the server's key is unknown, a KEY_REQUEST).

use std::time::Instant;

use crate::peer::core::timing::{Backoff, REQUEST_TIMEOUTS, REQUEST_TRIES, RETRY_DELAYS};

/// What is due in the rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send a try now.
    Try,
    /// The round went unanswered.
    Unanswered,
}

/// Handshake rounds.
#[derive(Debug, Clone)]
pub struct Rounds {
    /// Tries sent in the current round (0: no round under way).
    tries: u32,
    gaps: Backoff,
    /// When the next try, or the round's end, or the next round is due.
    next: Option<Instant>,
    between: Backoff,
}

impl Default for Rounds {
    fn default() -> Self {
        Self {
            tries: 0,
            gaps: REQUEST_TIMEOUTS,
            next: None,
            between: RETRY_DELAYS,
        }
    }
}

impl Rounds {
    /// Starts a round now unless one is under way; true when it did (the
    /// first try is due at once).
    pub fn begin(&mut self, now: Instant) -> bool {
        if self.tries > 0 {
            return false;
        }
        self.tries = 1;
        self.gaps = REQUEST_TIMEOUTS;
        self.next = Some(now + self.gaps.next_delay());
        true
    }

    /// When something is due.
    pub fn next(&self) -> Option<Instant> {
        self.next
    }

    /// What is due at `now`, if anything.
    pub fn due(&mut self, now: Instant) -> Option<Step> {
        if self.next.is_none_or(|at| at > now) {
            return None;
        }
        if self.tries == 0 {
            // The wait between rounds is over.
            self.next = None;
            self.begin(now);
            return Some(Step::Try);
        }
        if self.tries < REQUEST_TRIES {
            self.tries += 1;
            self.next = Some(now + self.gaps.next_delay());
            return Some(Step::Try);
        }
        self.failed(now);
        Some(Step::Unanswered)
    }

    /// A try out of turn (the INIT that carries a fresh cookie): it counts
    /// as one of the round's tries; false when the round has none left
    /// (or none is under way), and then no INIT goes (the next round's
    /// first carries the cookie).
    pub fn extra_try(&mut self) -> bool {
        if self.tries == 0 || self.tries >= REQUEST_TRIES {
            return false;
        }
        self.tries += 1;
        true
    }

    /// The round ended without success: the next starts after the wait.
    pub fn failed(&mut self, now: Instant) {
        self.tries = 0;
        self.next = Some(now + self.between.next_delay());
    }

    /// Answered: no round until the next is begun.
    pub fn succeeded(&mut self) {
        self.tries = 0;
        self.next = None;
        self.between = RETRY_DELAYS;
    }

    /// No more rounds (stopping).
    pub fn stop(&mut self) {
        self.tries = 0;
        self.next = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn five_tries_then_rounds_half_a_second_doubling_to_five_seconds_apart() {
        let t0 = Instant::now();
        let mut r = Rounds::default();
        assert!(r.begin(t0));
        assert!(!r.begin(t0), "one round at a time");
        let mut seen = vec![(0, Step::Try)];
        while seen.len() < 16 {
            let at = r.next().expect("always something next");
            let step = r.due(at).expect("due at its time");
            seen.push((at.duration_since(t0).as_millis(), step));
        }
        use Step::*;
        assert_eq!(
            seen,
            [
                (0, Try),
                (250, Try),
                (750, Try),
                (1750, Try),
                (3750, Try),
                (7750, Unanswered),
                (8250, Try),
                (8500, Try),
                (9000, Try),
                (10000, Try),
                (12000, Try),
                (16000, Unanswered),
                (17000, Try),
                (17250, Try),
                (17750, Try),
                (18750, Try),
            ]
        );
        r.succeeded();
        assert_eq!(r.next(), None);
        assert_eq!(r.due(t0 + Duration::from_secs(60)), None);
    }

    #[test]
    fn a_try_out_of_turn_counts_toward_the_five() {
        let t0 = Instant::now();
        let mut r = Rounds::default();
        assert!(!r.extra_try(), "no round under way");
        assert!(r.begin(t0));
        assert!(r.extra_try(), "the second try");
        let mut tries = 2;
        while let Some(Step::Try) = r.next().and_then(|at| r.due(at)) {
            tries += 1;
        }
        assert_eq!(tries, REQUEST_TRIES, "five in all, the extra one included");
        assert!(!r.extra_try(), "the round is over");
    }
}
