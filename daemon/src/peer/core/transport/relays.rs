//! The RELAYs sent within the last [`RETRY_WINDOW`], by `seq`: an ERROR
//! with one of these `seq`s is about that RELAY (its target), not about a
//! request of the registry link. RELAY_ACK forgets one at once; the rest
//! are forgotten when the window has passed, so the log stays bounded.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// How long a RELAY's answer is awaited (the server's replay window).
const RETRY_WINDOW: std::time::Duration = std::time::Duration::from_secs(30);
use peerd_shared::{PeerId, Seq};

/// Recent RELAYs and their targets.
#[derive(Debug, Default)]
pub struct RelayLog {
    targets: HashMap<Seq, PeerId>,
    /// Send times, oldest first, for forgetting.
    sent: VecDeque<(Instant, Seq)>,
}

impl RelayLog {
    /// A RELAY to `target` went out with `seq`.
    pub fn sent(&mut self, seq: Seq, target: PeerId, now: Instant) {
        self.forget_old(now);
        self.targets.insert(seq, target);
        self.sent.push_back((now, seq));
    }

    /// The server answered `seq`: the RELAY's target, if it was one.
    pub fn answered(&mut self, seq: Seq, now: Instant) -> Option<PeerId> {
        self.forget_old(now);
        self.targets.remove(&seq)
    }

    fn forget_old(&mut self, now: Instant) {
        while let Some(&(at, seq)) = self.sent.front() {
            if now.saturating_duration_since(at) < RETRY_WINDOW {
                return;
            }
            self.sent.pop_front();
            self.targets.remove(&seq);
        }
    }

    /// How many RELAYs are remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.targets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answered_relays_and_old_ones_are_forgotten() {
        let mut log = RelayLog::default();
        let t0 = Instant::now();
        let target = PeerId::new(2).expect("id");
        for s in 0..100 {
            log.sent(Seq(s), target, t0);
        }
        assert_eq!(log.len(), 100);
        assert_eq!(log.answered(Seq(5), t0), Some(target));
        assert_eq!(log.answered(Seq(5), t0), None, "answered once");
        assert_eq!(log.answered(Seq(500), t0), None, "not a RELAY's seq");
        assert_eq!(log.len(), 99);
        // Once the window has passed, the next RELAY forgets the old ones:
        // an ERROR with their seq is no longer about a RELAY.
        let later = t0 + RETRY_WINDOW;
        log.sent(Seq(1000), target, later);
        assert_eq!(log.len(), 1);
        assert_eq!(log.answered(Seq(7), later), None);
        assert_eq!(log.answered(Seq(1000), later), Some(target));
        assert_eq!(log.len(), 0);
    }
}
