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
