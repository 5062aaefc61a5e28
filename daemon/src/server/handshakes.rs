//! The server's side of the REGISTER handshake (docs/protocol.md 3 and 5.1)
//! and of KEY_REQUEST, as methods of [`Registry`]. The checks run cheapest
//! first (section 3.3): the per-IP limit, `mac1`, cookies under load, then
//! the Noise message, the payload and the timestamp; only a handshake that
//! passes them all binds a key to an id, creates a session and is answered.

use std::net::SocketAddr;
use std::time::Instant;

use peerd_shared::proto::frame::{key_reply, Init};
use peerd_shared::proto::handshake::{accept, Accepted};
use peerd_shared::proto::{ErrorCode, InitPayload, RespPayload};
use peerd_shared::PeerId;
use tracing::{debug, info, warn};

use super::registry::{random32, Pending, Registry, MAX_PENDING};
use super::reply_buffer::{Persist, ReplyBuffer};
use crate::metrics::Counter;
use crate::ratelimit::Verdict;

impl Registry {
    /// A HANDSHAKE_INIT from `source`.
    pub(super) fn on_init(
        &mut self,
        init: &Init<'_>,
        source: SocketAddr,
        now: Instant,
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) {
        if self.handshakes.check(source.ip(), now_ms) != Verdict::Accept {
            return self.handshake_dropped(out, "handshake rate limit of its IP", source, now_ms);
        }
        if !self.identity.mac1_ok(init.mac1_input, &init.mac1) {
            return self.handshake_dropped(out, "handshake with a bad mac1", source, now_ms);
        }
        if self.load.record(now_ms) && !self.cookies.mac2_ok(source, init) {
            self.cookies.rotate(now, random32);
            let mut nonce = [0u8; 24];
            nonce.copy_from_slice(&random32()[..24]);
            out.raw(source, &self.cookies.reply(source, init, nonce));
            out.tally.add(Counter::CookieReplies, 1);
            return debug!(%source, "under load: cookie reply");
        }
        let accepted = match accept(&self.identity, init) {
            Ok(a) => a,
            Err(_) => {
                return self.handshake_dropped(
                    out,
                    "handshake that does not decrypt",
                    source,
                    now_ms,
                )
            }
        };
        let InitPayload::Register { timestamp } = accepted.payload else {
            return self.handshake_dropped(out, "handshake that is not a REGISTER", source, now_ms);
        };
        let key = accepted.initiator;
        match self.peers.id_of(&key) {
            Some(id) => match self.pending.get_mut(&id) {
                Some(p) if timestamp > p.ts => {
                    // A newer try while the id is being stored: answer that
                    // one, and keep its timestamp on disk too (the row being
                    // stored holds the first try's), so that a replay of it
                    // stays refused after a restart.
                    *p = Pending {
                        accepted,
                        source,
                        ts: timestamp,
                    };
                    out.persist.push(Persist::Timestamp { id, ts: timestamp });
                }
                Some(_) => self.handshake_dropped(out, "replayed handshake", source, now_ms),
                None if timestamp <= self.peers.last_ts(id) => {
                    self.handshake_dropped(out, "replayed handshake", source, now_ms);
                }
                None => self.complete(id, accepted, source, timestamp, false, now_ms, out),
            },
            None => self.register_new(accepted, source, timestamp, now_ms, out),
        }
    }

    /// Counts and logs (rate-limited) a dropped HANDSHAKE_INIT.
    fn handshake_dropped(
        &mut self,
        out: &mut ReplyBuffer,
        reason: &'static str,
        source: SocketAddr,
        now_ms: u64,
    ) {
        out.tally.add(Counter::HandshakesDropped, 1);
        self.dropped(reason, source, now_ms);
    }

    /// A key the server has never seen: the next id, answered once stored.
    fn register_new(
        &mut self,
        accepted: Accepted,
        source: SocketAddr,
        ts: u64,
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) {
        if self.cluster.is_some() {
            let pending = Pending {
                accepted,
                source,
                ts,
            };
            return self.claim_new(pending, now_ms, out);
        }
        if self.pending.len() >= MAX_PENDING {
            return self.dropped("too many new keys waiting for the database", source, now_ms);
        }
        let key = accepted.initiator;
        let Some(id) = self.peers.assign(key) else {
            return warn!("REGISTER from {source}: no id left to give");
        };
        self.pending.insert(
            id,
            Pending {
                accepted,
                source,
                ts,
            },
        );
        out.persist.push(Persist::New { id, key, ts });
        debug!("REGISTER from {source} -> id {id} (new, storing)");
    }

    /// Answers REGISTERED, installs the session and puts the peer online.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn complete(
        &mut self,
        id: PeerId,
        accepted: Accepted,
        source: SocketAddr,
        ts: u64,
        new: bool,
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) {
        let Some(local) = self.peers.next_index(id) else {
            return;
        };
        let remote = accepted.initiator_index;
        let payload = RespPayload::Registered {
            id,
            keepalive: self.keepalive_secs,
            addr: source,
        };
        match accepted.respond(local, &payload) {
            Ok((bytes, keys)) => {
                self.peers.install(id, keys, local, remote, now_ms);
                self.peers.set_last_ts(id, ts);
                self.peers.refresh(id, source, now_ms);
                self.announce_online(id);
                out.raw(source, &bytes);
                out.tally.add(Counter::Handshakes, 1);
                if !new {
                    out.persist.push(Persist::Timestamp { id, ts });
                }
                info!(
                    "REGISTER from {source} -> id {id}{}",
                    if new { " (new)" } else { "" }
                );
            }
            Err(e) => warn!("REGISTER from {source} -> id {id}: cannot answer: {e}"),
        }
    }

    /// A new key whose id could not be stored: `internal`, no session.
    pub(super) fn refuse_new(&mut self, id: Option<PeerId>, p: Pending, out: &mut ReplyBuffer) {
        let payload = RespPayload::Refused {
            code: ErrorCode::Internal,
            message: "id not stored; retry".into(),
        };
        match p.accepted.respond(0, &payload) {
            Ok((bytes, _)) => {
                out.raw(p.source, &bytes);
                match id {
                    Some(id) => warn!("REGISTER from {}: internal: id {id} not stored", p.source),
                    None => warn!(
                        "REGISTER from {}: internal: no id from the cluster database",
                        p.source
                    ),
                }
            }
            Err(e) => warn!("REGISTER from {}: cannot answer: {e}", p.source),
        }
    }

    /// KEY_REQUEST: the server's public key, to a daemon meeting it first.
    pub(super) fn on_key_request(
        &mut self,
        source: SocketAddr,
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) {
        if self.handshakes.check(source.ip(), now_ms) != Verdict::Accept {
            return self.dropped("handshake rate limit of its IP", source, now_ms);
        }
        out.raw(source, &key_reply(&self.identity.public));
        out.tally.add(Counter::KeyReplies, 1);
        debug!(%source, "KEY_REQUEST answered");
    }
}
