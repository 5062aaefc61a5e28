//! Messages from queueing to their end: admission of a new message,
//! sending it over the peer's route (or looking the peer up first),
//! retransmission, acknowledgement, expiry, and failing or noting the
//! messages of a peer that is unknown or unreachable.

use peerd_shared::control::{ControlError, ErrorKind, MsgStatus, PathKind};
use peerd_shared::{MsgId, PeerId};

use super::{Action, Admission, Change, Delivery};
use crate::peer::core::clock::{format_ms, Now};
use crate::peer::core::queue::OutMsg;
use crate::peer::core::timing::{PATH_FAILURE_SENDS, PUNCH_WINDOW};
use crate::peer::core::transport::{Origin, PeerPacket, Route};

impl Delivery {
    /// Whether a new message for `to` may be stored now, and with what
    /// note. A peer not known yet is looked up first (while registered).
    pub fn admit(&mut self, to: PeerId, now: Now) -> Admission {
        if self.me == Some(to) {
            return Admission::Refused(ControlError {
                code: ErrorKind::SelfTarget,
                message: format!("peer {to} is this daemon itself"),
            });
        }
        if let Some(reason) = self.paths.get(&to).and_then(|p| p.blocked()) {
            return Admission::Refused(ControlError {
                code: ErrorKind::KeyChanged,
                message: reason.to_owned(),
            });
        }
        let waiting = self
            .paths
            .get(&to)
            .and_then(|p| p.waiting())
            .map(str::to_owned);
        let admission = if self.known.contains(&to) || waiting.is_some() {
            // Looked up moments ago and unreachable: do not ask again for
            // every message (the retry timer will).
            Admission::Now { problem: waiting }
        } else if !self.registered {
            // Do not hold `send` up while registering: queue now; the peer
            // is looked up (and the message failed if the id is unknown)
            // once the server answers.
            let problem = Some("not registered with the server yet".to_owned());
            Admission::Now { problem }
        } else {
            self.lookup(to);
            Admission::AfterLookup
        };
        self.settle(now);
        admission
    }

    /// A message was stored as `id`: send it (`waiting`: a caller waits
    /// for its final outcome).
    pub fn queued(&mut self, id: MsgId, mut m: OutMsg, waiting: bool, now: Now) {
        m.waiting = waiting;
        self.queue.insert(id, m);
        self.attempt(id, now);
        self.settle(now);
    }

    /// Peer `origin.peer` acknowledged `msg` (over the route it came by).
    pub fn acked(&mut self, origin: Origin, msg: MsgId, now: Now) {
        let peer = origin.peer;
        if self.queue.get(msg).is_none_or(|m| m.to != peer) {
            return;
        }
        let Some(m) = self.queue.remove(msg) else {
            return;
        };
        self.path(peer).heard(now.at);
        tracing::debug!(%peer, %msg, src = %origin.src, "delivered");
        let path = match origin.route {
            Route::Direct(_) => PathKind::Direct,
            Route::Relayed => PathKind::Relayed,
        };
        let elapsed = now.at.saturating_duration_since(m.enqueued).as_secs_f64() * 1000.0;
        let outcome = m.outcome(msg, MsgStatus::Delivered, Some((path, elapsed)), None);
        let change = Change::Delivered {
            path,
            at_ms: now.unix_ms,
            attempts: m.attempts,
        };
        self.out.push(Action::Record {
            msg,
            change,
            outcome,
        });
        self.release(peer, now);
        self.settle(now);
    }

    /// Message `id` is no longer to be sent (the user deleted it): it
    /// leaves the queue without an outcome recorded, and the next waiting
    /// message of its peer takes its place. Returns it if it was queued.
    pub fn forget(&mut self, id: MsgId, now: Now) -> Option<OutMsg> {
        let m = self.queue.remove(id)?;
        tracing::debug!(peer = %m.to, msg = %id, "removed from the queue");
        self.release(m.to, now);
        self.settle(now);
        Some(m)
    }

    /// The message could not be sealed for its route (too long to relay):
    /// it fails now, with the reason.
    pub fn unsendable(&mut self, msg: MsgId, reason: String, now: Now) {
        self.fail(msg, ErrorKind::TextTooLong, reason, now);
        self.settle(now);
    }

    /// Sends a message over the peer's current path (or starts finding one)
    /// and arms its next retransmission. A message that does not fit its
    /// peer's window is parked without a timer until a slot frees.
    pub(super) fn attempt(&mut self, id: MsgId, now: Now) {
        let Some(m) = self.queue.get(id) else {
            return;
        };
        if now.unix_ms >= m.expires_ms {
            return self.expire(id, now);
        }
        let (to, path_sends) = (m.to, m.path_sends);
        let path = self.path(to);
        let broken = path_sends >= PATH_FAILURE_SENDS && path.silent_for(PUNCH_WINDOW, now.at);
        if broken && path.route().is_some() {
            tracing::info!(peer = %to, "no answer on the path; looking the peer up again");
            path.forget();
        }
        let route = path.route();
        let lookup = route.is_none() && path.needs_lookup(now.at);
        if let (Some(route), true) = (route, self.me.is_some()) {
            if !self.queue.admit(id) {
                return;
            }
            self.path(to).sent(now.at);
            if let Some(m) = self.queue.get_mut(id) {
                if m.attempts > 0 {
                    self.stats.retransmissions += 1;
                }
                m.attempts += 1;
                m.path_sends += 1;
                let packet = PeerPacket::Message {
                    msg: id,
                    text: m.text.clone(),
                    ts: m.created_ms,
                };
                self.transmit(to, route, packet);
            }
        }
        self.queue.schedule(id, now);
        if lookup {
            self.lookup(to);
        }
    }

    /// Sends parked messages of `peer` while its window has room.
    pub(super) fn release(&mut self, peer: PeerId, now: Now) {
        while let Some(id) = self.queue.next_released(peer) {
            self.attempt(id, now);
        }
    }

    /// Sends every pending message of `peer` now (a path just appeared).
    pub(super) fn flush(&mut self, peer: PeerId, now: Now) {
        for id in self.queue.ids_of(peer) {
            if let Some(m) = self.queue.get_mut(id) {
                m.restart();
            }
            self.attempt(id, now);
        }
    }

    /// The message's time is up: it fails as `expired`.
    pub(super) fn expire(&mut self, id: MsgId, now: Now) {
        let Some(m) = self.queue.get(id) else {
            return;
        };
        let reason = m.last_error.as_deref().unwrap_or("no acknowledgement");
        let error = format!("expired at {}: {reason}", format_ms(m.expires_ms));
        self.fail(id, ErrorKind::Expired, error, now);
    }

    /// Message `id` cannot be delivered: it fails with `code` and `error`
    /// (recorded, and told to a waiting `send`).
    pub(super) fn fail(&mut self, id: MsgId, code: ErrorKind, error: String, now: Now) {
        let Some(m) = self.queue.remove(id) else {
            return;
        };
        tracing::warn!(peer = %m.to, msg = %id, %error, "message failed");
        let mut outcome = m.outcome(id, MsgStatus::Failed, None, Some(error.clone()));
        outcome.code = Some(code);
        let attempts = m.attempts;
        let change = Change::Failed { error, attempts };
        self.out.push(Action::Record {
            msg: id,
            change,
            outcome,
        });
        self.release(m.to, now);
    }

    /// Every queued message of `peer` fails at once with `code` (the id
    /// was never registered, or its key changed).
    pub(super) fn fail_all(&mut self, peer: PeerId, code: ErrorKind, reason: &str, now: Now) {
        for id in self.queue.ids_of(peer) {
            self.fail(id, code, reason.to_owned(), now);
        }
    }

    /// The peer is unreachable for now: its path waits to look it up
    /// again, and its messages carry the reason (waiting callers hear it).
    pub(super) fn unreachable(&mut self, peer: PeerId, reason: String, now: Now) {
        self.path(peer).wait(reason.clone(), now.at);
        self.note_all(peer, &reason, now);
    }

    /// Every queued message of `peer` carries `reason` as its latest
    /// problem; waiting `send` callers get it as their note.
    pub(super) fn note_all(&mut self, peer: PeerId, reason: &str, _now: Now) {
        for id in self.queue.ids_of(peer) {
            let Some(m) = self.queue.get_mut(id) else {
                continue;
            };
            if !m.waiting && m.last_error.as_deref() == Some(reason) {
                continue;
            }
            m.last_error = Some(reason.to_owned());
            m.waiting = false;
            let outcome = m.outcome(id, MsgStatus::Queued, None, Some(reason.to_owned()));
            let change = Change::Noted {
                error: reason.to_owned(),
                attempts: m.attempts,
            };
            self.out.push(Action::Record {
                msg: id,
                change,
                outcome,
            });
        }
    }

    /// Sends `packet` to `peer` once own id is known.
    pub(super) fn transmit(&mut self, peer: PeerId, route: Route, packet: PeerPacket) {
        if self.me.is_some() {
            self.out.push(Action::Transmit {
                peer,
                route,
                packet,
            });
        }
    }
}
