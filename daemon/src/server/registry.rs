//! The protocol core of `peerd server`: pure, I/O-free, and driven by the
//! UDP loop through [`Registry::handle`] (one datagram in, datagrams out),
//! [`Registry::on_durable`] (the database stored new ids) and
//! [`Registry::sweep`] (time passes). Time is passed in, so tests run on a
//! fake clock.
//!
//! The checks follow protocol.md 2 in order: rate limit, then JSON object,
//! `v`, `type` (replies and peer messages sent to the server get
//! `unknown_type`; an ERROR is never answered), `seq`, other fields (all in
//! `peerd_shared::wire::decode`), then the replay cache (retries of CONNECT,
//! UNREGISTER and RELAY), authentication, the target. The request handlers
//! live in `requests.rs`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use peerd_shared::wire::{self, canonical, DecodeError, ErrorCode, Kind, Packet, MAX_DATAGRAM};
use peerd_shared::{PeerId, Seq, Token};
use tracing::{debug, info, warn};

use super::addr_text::AddrText;
use super::args::Limits;
use super::peers::Peers;
use super::ratelimit::{RateLimiter, Verdict};
use super::replay::ReplayCache;
use super::reply_buffer::ReplyBuffer;
use super::stun_port as stun;
use crate::metrics::Counter;

/// REGISTERs of a token whose new id is still being written to disk.
#[derive(Debug)]
struct Pending {
    /// The latest source; the peer goes online there once durable.
    addr: SocketAddr,
    /// The latest REGISTER, ms since the epoch.
    last_ms: u64,
    /// Everyone to answer once durable: (source, seq), at most [`MAX_WAITERS`].
    waiters: Vec<(SocketAddr, Seq)>,
}

/// Retries of one pending REGISTER that are remembered (more are answered
/// by their own later retries).
const MAX_WAITERS: usize = 8;

/// The server's state and protocol logic.
#[derive(Debug)]
pub struct Registry {
    pub(super) peers: Peers,
    pending: HashMap<PeerId, Pending>,
    pub(super) replay: ReplayCache,
    limiter: RateLimiter,
    /// Announced in REGISTER_ACK, seconds.
    pub(super) keepalive_secs: u64,
    /// 3 x keepalive, ms.
    expiry_ms: u64,
    epoch: Instant,
    /// Reused by [`Registry::sweep`].
    expired: Vec<PeerId>,
}

impl Registry {
    /// A registry holding the durable assignments `loaded`, all offline;
    /// times are measured from `epoch`.
    pub fn new(
        limits: Limits,
        loaded: impl IntoIterator<Item = (PeerId, Token)>,
        epoch: Instant,
    ) -> Self {
        let keepalive_ms = u64::try_from(limits.keepalive.as_millis()).unwrap_or(u64::MAX / 4);
        Self {
            peers: Peers::load(loaded),
            pending: HashMap::new(),
            replay: ReplayCache::new(limits.replay_capacity),
            limiter: RateLimiter::new(
                limits.rate_per_source,
                limits.burst_per_source,
                limits.global_rate,
            ),
            keepalive_secs: limits.keepalive.as_secs().max(1),
            expiry_ms: keepalive_ms.saturating_mul(u64::from(wire::EXPIRY_KEEPALIVES)),
            epoch,
            expired: Vec::new(),
        }
    }

    pub(super) fn ms(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// True if an online peer seen last at `last_ms` has expired at `now_ms`.
    pub(super) fn expired(&self, last_ms: u64, now_ms: u64) -> bool {
        now_ms.saturating_sub(last_ms) >= self.expiry_ms
    }

    /// Handles one datagram from `source`, queueing the answers in `out`.
    pub fn handle(
        &mut self,
        datagram: &[u8],
        source: SocketAddr,
        now: Instant,
        out: &mut ReplyBuffer,
    ) {
        let source = canonical(source);
        let now_ms = self.ms(now);
        if datagram.is_empty() {
            return;
        }
        let verdict = self.limiter.check(source, now_ms);
        if stun::is_stun(datagram) {
            return stun::serve(datagram, source, verdict, out);
        }
        match verdict {
            Verdict::Accept => {}
            Verdict::Drop => return out.tally.add(Counter::RateLimitedDropped, 1),
            Verdict::Notify => {
                let seq = match wire::decode(datagram) {
                    Ok(Packet::Error { .. }) => return,
                    Ok(p) => p.seq(),
                    Err(_) if peek(datagram).kind == Some(Kind::Error) => return,
                    Err(e) => e.seq,
                };
                info!("request from {source}: rate_limited");
                let message = "too many requests from this address; retry later";
                out.error(
                    source,
                    seq.unwrap_or_default(),
                    ErrorCode::RateLimited,
                    message,
                    datagram.len(),
                );
                return;
            }
        }
        // Canonical REGISTER/LIST/CONNECT skip serde; the rest (and every
        // error) goes through the staged decoder.
        match wire::fast::decode_request(datagram).map_or_else(|| wire::decode(datagram), Ok) {
            Ok(packet) => {
                out.tally.add(Counter::request(packet.kind()), 1);
                self.dispatch(packet, datagram, source, now_ms, out)
            }
            Err(e) => {
                out.tally.add(Counter::RequestInvalid, 1);
                self.refuse(e, datagram, source, out)
            }
        }
    }

    fn dispatch(
        &mut self,
        packet: Packet,
        datagram: &[u8],
        source: SocketAddr,
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) {
        match packet {
            Packet::Register { seq, token } => self.register(seq, token, source, now_ms, out),
            Packet::List {
                seq,
                id,
                token,
                after,
            } => self.list(seq, id, &token, after, source, now_ms, out),
            Packet::Connect {
                seq,
                id,
                token,
                target,
            } => self.connect(seq, id, &token, target, datagram, source, now_ms, out),
            Packet::Unregister { seq, id, token } => {
                self.unregister(seq, id, &token, datagram, source, now_ms, out)
            }
            Packet::Relay {
                seq,
                id,
                token,
                target,
                data,
            } => {
                let req = super::requests::RelayRequest {
                    seq,
                    id,
                    token,
                    target,
                    data: data.get(),
                };
                self.relay(req, datagram, source, now_ms, out)
            }
            Packet::Error { .. } => debug!(%source, "ERROR received; never answered"),
            other => {
                let kind = other.kind();
                let seq = other
                    .seq()
                    .or_else(|| peek(datagram).seq)
                    .unwrap_or_default();
                info!("{kind} from {source}: unknown_type");
                let message = format!("{kind} is not a request the server serves");
                out.error(
                    source,
                    seq,
                    ErrorCode::UnknownType,
                    &message,
                    datagram.len(),
                );
            }
        }
    }

    /// Answers a datagram that failed to decode.
    fn refuse(
        &mut self,
        e: DecodeError,
        datagram: &[u8],
        source: SocketAddr,
        out: &mut ReplyBuffer,
    ) {
        let head = peek(datagram);
        if head.kind == Some(Kind::Error) {
            return debug!(%source, "malformed ERROR received; never answered");
        }
        // protocol.md 1: an oversized datagram is answered only if it parses
        // as an object with a valid seq (then `too_large`); else dropped.
        if datagram.len() > MAX_DATAGRAM && (e.code != ErrorCode::TooLarge || e.seq.is_none()) {
            return info!(
                "datagram of {} bytes from {source}: too large, dropped",
                datagram.len()
            );
        }
        // decode checks v, then type, then seq and fields: a field error in a
        // message of a known type the server does not serve is unknown_type.
        let (code, message) = match head.kind {
            Some(kind) if e.code == ErrorCode::BadRequest && head.v_is_one && !serves(kind) => (
                ErrorCode::UnknownType,
                "a reply or peer message is not a request the server serves".into(),
            ),
            _ => (e.code, e.message),
        };
        let seq = e.seq.or(head.seq).unwrap_or_default();
        info!("request from {source}: {code}: {message}");
        out.error(source, seq, code, &message, datagram.len());
    }

    /// REGISTER: refresh a known token, or give a new token the next id
    /// (answered once the database holds it).
    fn register(
        &mut self,
        seq: Seq,
        token: Token,
        source: SocketAddr,
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) {
        if let Some(id) = self.peers.id_of(&token) {
            if let Some(p) = self.pending.get_mut(&id) {
                p.addr = source;
                p.last_ms = now_ms;
                if !p.waiters.contains(&(source, seq)) && p.waiters.len() < MAX_WAITERS {
                    p.waiters.push((source, seq));
                }
                return debug!("REGISTER from {source} -> id {id} (waiting for the database)");
            }
            let text = self.peers.refresh(id, source, now_ms);
            out.register_ack(source, seq, id, &text, self.keepalive_secs);
            return info!("REGISTER from {source} -> id {id}");
        }
        let Some(id) = self.peers.assign(token) else {
            warn!("REGISTER from {source}: no id left to give");
            let message = "the server has no id left to give";
            return out.error(source, seq, ErrorCode::Internal, message, usize::MAX / 2);
        };
        self.pending.insert(
            id,
            Pending {
                addr: source,
                last_ms: now_ms,
                waiters: vec![(source, seq)],
            },
        );
        out.persist.push((id, token));
        debug!("REGISTER from {source} -> id {id} (new, storing)");
    }

    /// The database stored (`stored` true) or failed to store `ids`.
    pub fn on_durable(&mut self, ids: &[PeerId], stored: bool, out: &mut ReplyBuffer) {
        for &id in ids {
            let Some(p) = self.pending.remove(&id) else {
                continue;
            };
            if stored {
                out.tally.add(Counter::Registrations, 1);
                self.peers.confirm(id);
                let text = self.peers.refresh(id, p.addr, p.last_ms);
                for (to, seq) in p.waiters {
                    let text = if to == p.addr { text } else { AddrText::NONE };
                    out.register_ack(to, seq, id, &text, self.keepalive_secs);
                    info!("REGISTER from {to} -> id {id} (new)");
                }
            } else {
                self.peers.abandon(id);
                for (to, seq) in p.waiters {
                    let message = "the server could not store the new id; retry later";
                    out.error(to, seq, ErrorCode::Internal, message, usize::MAX / 2);
                    warn!("REGISTER from {to}: internal: id {id} not stored");
                }
            }
        }
    }

    /// Takes expired peers offline and forgets old rate-limit and replay
    /// state. Call about once a second.
    pub fn sweep(&mut self, now: Instant) {
        let now_ms = self.ms(now);
        let mut expired = std::mem::take(&mut self.expired);
        expired.clear();
        if let Some(first) = PeerId::new(1) {
            expired.extend(
                self.peers
                    .online_from(first)
                    .filter(|(_, p)| self.expired(p.last_ms, now_ms))
                    .map(|(id, _)| id),
            );
        }
        for &id in &expired {
            self.peers.set_offline(id);
            info!(
                "id {id} expired (no REGISTER for {} s)",
                self.expiry_ms / 1000
            );
        }
        self.expired = expired;
        self.limiter.sweep(now_ms);
        self.replay.expire(now_ms);
        debug!(
            online = self.peers.online_count(),
            ids = self.peers.assigned(),
            pending = self.pending.len(),
            rate_tracked = self.limiter.tracked(),
            replay = self.replay.len(),
            "sweep"
        );
    }

    /// Peers online now (expired ones count until the next sweep).
    pub fn online_count(&self) -> usize {
        self.peers.online_count()
    }

    /// Ids ever given (registered, pending or abandoned).
    pub fn known_ids(&self) -> usize {
        self.peers.assigned()
    }
}

/// Whether the server serves requests of this type.
fn serves(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Register | Kind::List | Kind::Connect | Kind::Unregister | Kind::Relay
    )
}

/// What can be read of a datagram that failed to decode (slow path only).
#[derive(Debug, Default)]
struct Peek {
    v_is_one: bool,
    kind: Option<Kind>,
    seq: Option<Seq>,
}

fn peek(datagram: &[u8]) -> Peek {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(datagram) else {
        return Peek::default();
    };
    Peek {
        v_is_one: map.get("v").and_then(serde_json::Value::as_u64) == Some(wire::VERSION),
        kind: map
            .get("type")
            .and_then(serde_json::Value::as_str)
            .and_then(Kind::parse),
        seq: map
            .get("seq")
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .map(Seq),
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "registry_rate_tests.rs"]
mod rate_tests;
