//! The requests out with the server, by `seq`: each keeps its request for
//! retransmission (docs/protocol.md 5.2 and 9: the same `seq`, 250 ms
//! doubling, at most [`REQUEST_TRIES`] tries; each try sealed anew, as a
//! new TRANSPORT frame with a new counter, so that a try is never taken
//! for a replay of the last) and what it is for (`P`), until it is
//! answered or given up.

use std::collections::HashMap;
use std::time::Instant;

use peerd_shared::Seq;

use super::timers::Timers;
use super::timing::{Backoff, REQUEST_TIMEOUTS, REQUEST_TRIES};
use super::transport::ServerRequest;

/// A request on the wire.
struct Pending<P> {
    request: ServerRequest,
    tries: u32,
    timeouts: Backoff,
    purpose: P,
}

/// What a request needs when its timer fires.
#[derive(Debug, PartialEq, Eq)]
pub enum Due<P> {
    /// Seal the same request with the same `seq` again, and send it.
    Resend(Seq, ServerRequest),
    /// The last try went unanswered: the request is over.
    GaveUp(P),
}

/// Pending requests and their retransmission timers.
pub struct Requests<P> {
    pending: HashMap<Seq, Pending<P>>,
    timers: Timers<Seq>,
}

impl<P> Default for Requests<P> {
    fn default() -> Self {
        Self {
            pending: HashMap::new(),
            timers: Timers::default(),
        }
    }
}

impl<P> Requests<P> {
    /// `request` was just sent with `seq`.
    pub fn sent(&mut self, seq: Seq, request: ServerRequest, purpose: P, now: Instant) {
        let mut timeouts = REQUEST_TIMEOUTS;
        self.timers.arm(seq, now + timeouts.next_delay());
        let pending = Pending {
            request,
            tries: 1,
            timeouts,
            purpose,
        };
        self.pending.insert(seq, pending);
    }

    /// The request `seq` was answered: what it was for.
    pub fn answered(&mut self, seq: Seq) -> Option<P> {
        self.timers.disarm(seq);
        self.pending.remove(&seq).map(|p| p.purpose)
    }

    /// Forgets every pending request (they went to a server that is no
    /// longer the home); returns what they were for.
    pub fn drain(&mut self) -> Vec<P> {
        let seqs: Vec<Seq> = self.pending.keys().copied().collect();
        for seq in &seqs {
            self.timers.disarm(*seq);
        }
        self.pending.drain().map(|(_, p)| p.purpose).collect()
    }

    /// Whether any pending request is for something `f` accepts.
    pub fn any(&self, f: impl Fn(&P) -> bool) -> bool {
        self.pending.values().any(|p| f(&p.purpose))
    }

    /// When the next retransmission (or give-up) is due.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.timers.earliest()
    }

    /// One request whose timer has fired, and what it needs.
    pub fn pop_due(&mut self, now: Instant) -> Option<Due<P>> {
        let seq = self.timers.pop_due(now)?;
        let p = self.pending.get_mut(&seq)?;
        if p.tries < REQUEST_TRIES {
            p.tries += 1;
            self.timers.arm(seq, now + p.timeouts.next_delay());
            return Some(Due::Resend(seq, p.request));
        }
        self.pending.remove(&seq).map(|p| Due::GaveUp(p.purpose))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn five_tries_250_ms_doubling_then_give_up() {
        let t0 = Instant::now();
        let request = ServerRequest::Keepalive;
        let mut r = Requests::default();
        r.sent(Seq(7), request, "register", t0);
        let mut fired = Vec::new();
        while let Some(at) = r.next_deadline() {
            let due = r.pop_due(at).expect("due at its deadline");
            fired.push((at.duration_since(t0).as_millis(), due));
        }
        let resend = || Due::Resend(Seq(7), request);
        assert_eq!(
            fired,
            [
                (250, resend()),
                (750, resend()),
                (1750, resend()),
                (3750, resend()),
                (7750, Due::GaveUp("register")),
            ]
        );
        r.sent(Seq(8), ServerRequest::List { after: 0 }, "list", t0);
        assert!(r.any(|p| *p == "list"));
        assert_eq!(r.answered(Seq(8)), Some("list"));
        assert_eq!(r.pop_due(t0 + Duration::from_secs(60)), None);
    }
}
