//! The sessions this daemon holds with one other party (a peer, or the
//! server), after docs/protocol.md 3 and 4: up to [`KEPT`] confirmed ones,
//! and apart from them the unconfirmed ones (a responder's, until the first
//! frame arrives on them) for [`UNCONFIRMED`]. Frames are received on any
//! of them; the newest confirmed one sends. Sessions older than
//! `REJECT_AFTER` are dropped.

use std::time::{Duration, Instant};

use peerd_shared::proto::{Session, SessionKeys, REJECT_AFTER, REKEY_AFTER};

/// Confirmed sessions kept with one party.
pub const KEPT: usize = 4;
/// How long an unconfirmed session is kept.
pub const UNCONFIRMED: Duration = Duration::from_secs(15);

/// One session and its age.
#[derive(Debug)]
pub struct Held<const W: usize> {
    pub session: Session<W>,
    pub established: Instant,
    /// When it was confirmed (`None`: not yet).
    confirmed: Option<Instant>,
}

/// The sessions with one party.
#[derive(Debug)]
pub struct Sessions<const W: usize> {
    held: Vec<Held<W>>,
}

impl<const W: usize> Default for Sessions<W> {
    fn default() -> Self {
        Self { held: Vec::new() }
    }
}

impl<const W: usize> Sessions<W> {
    /// Adds a session made at `now` (`confirmed` on the initiator's side);
    /// returns the local indices of the sessions it pushed out.
    pub fn add(
        &mut self,
        keys: SessionKeys,
        local: u32,
        remote: u32,
        confirmed: bool,
        now: Instant,
    ) -> Vec<u32> {
        self.held.push(Held {
            session: Session::new(keys, local, remote),
            established: now,
            confirmed: confirmed.then_some(now),
        });
        self.trim(now)
    }

    /// Forgets old, surplus and long-unconfirmed sessions; returns the
    /// local indices dropped (to free them).
    pub fn trim(&mut self, now: Instant) -> Vec<u32> {
        let mut dropped = Vec::new();
        self.held.retain(|h| {
            let age = now.saturating_duration_since(h.established);
            let keep = age < REJECT_AFTER && (h.confirmed.is_some() || age < UNCONFIRMED);
            if !keep {
                dropped.push(h.session.local);
            }
            keep
        });
        let mut confirmed: Vec<(Instant, u32)> = self
            .held
            .iter()
            .filter_map(|h| h.confirmed.map(|at| (at, h.session.local)))
            .collect();
        if confirmed.len() > KEPT {
            confirmed.sort_unstable();
            let surplus: Vec<u32> = confirmed[..confirmed.len() - KEPT]
                .iter()
                .map(|(_, l)| *l)
                .collect();
            self.held.retain(|h| !surplus.contains(&h.session.local));
            dropped.extend(surplus);
        }
        dropped
    }

    /// The session with our index `local`.
    pub fn find(&mut self, local: u32) -> Option<&mut Held<W>> {
        self.held.iter_mut().find(|h| h.session.local == local)
    }

    /// A frame authenticated on `local`: confirmed from now on (true when
    /// it was not before).
    pub fn confirm(&mut self, local: u32, now: Instant) -> bool {
        match self.find(local) {
            Some(h) if h.confirmed.is_none() => {
                h.confirmed = Some(now);
                true
            }
            _ => false,
        }
    }

    /// The session to send on: the newest confirmed one that is not too old.
    pub fn sending(&mut self, now: Instant) -> Option<&mut Session<W>> {
        self.held
            .iter_mut()
            .filter(|h| now.saturating_duration_since(h.established) < REJECT_AFTER)
            .filter_map(|h| h.confirmed.map(|at| (at, h)))
            .max_by_key(|(at, _)| *at)
            .map(|(_, h)| &mut h.session)
    }

    /// Whether the newest confirmed session is due for a re-key (or there
    /// is none).
    pub fn needs_rekey(&self, now: Instant) -> bool {
        self.held
            .iter()
            .filter(|h| h.confirmed.is_some())
            .map(|h| now.saturating_duration_since(h.established))
            .min()
            .is_none_or(|age| age >= REKEY_AFTER)
    }

    /// Forgets everything (the party's key changed, or it restarted).
    pub fn clear(&mut self) -> Vec<u32> {
        self.held.drain(..).map(|h| h.session.local).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SessionKeys {
        SessionKeys {
            send: [1; 32],
            recv: [2; 32],
        }
    }

    #[test]
    fn the_newest_confirmed_session_sends_and_unconfirmed_ones_wait() {
        let t = Instant::now();
        let mut s = Sessions::<2>::default();
        s.add(keys(), 1, 101, false, t);
        assert!(
            s.sending(t).is_none(),
            "a responder waits for the first frame"
        );
        s.add(keys(), 2, 102, true, t + Duration::from_millis(10));
        assert_eq!(s.sending(t).map(|x| x.local), Some(2));
        assert!(s.confirm(1, t + Duration::from_millis(20)));
        assert!(!s.confirm(1, t + Duration::from_millis(21)), "once");
        assert_eq!(s.sending(t).map(|x| x.local), Some(1), "confirmed last");
        s.add(keys(), 3, 103, false, t);
        let later = t + UNCONFIRMED;
        assert_eq!(s.trim(later), vec![3], "unconfirmed too long");
        assert!(s.find(1).is_some() && s.find(2).is_some());
    }

    #[test]
    fn four_confirmed_are_kept_and_old_ones_go() {
        let t = Instant::now();
        let mut s = Sessions::<2>::default();
        for i in 0..6u32 {
            s.add(
                keys(),
                i,
                100 + i,
                true,
                t + Duration::from_secs(u64::from(i)),
            );
        }
        let kept: Vec<bool> = (0..6).map(|i| s.find(i).is_some()).collect();
        assert_eq!(kept, [false, false, true, true, true, true]);
        assert!(!s.needs_rekey(t + Duration::from_secs(5)));
        assert!(s.needs_rekey(t + REKEY_AFTER + Duration::from_secs(5)));
        let gone = s.trim(t + REJECT_AFTER + Duration::from_secs(3));
        assert_eq!(gone, vec![2, 3]);
        assert!(s
            .sending(t + REJECT_AFTER + Duration::from_secs(3))
            .is_some());
        assert_eq!(s.clear().len(), 2);
        assert!(s.needs_rekey(t), "no session: handshake");
    }
}
