//! The protocol core of `peerd server`: pure and driven by the UDP loop
//! through [`Registry::handle`] (one datagram in, datagrams out),
//! [`Registry::on_durable`] (the database stored new ids) and
//! [`Registry::sweep`] (time passes). Time is passed in, so tests run on a
//! fake clock; nothing here touches a socket or the disk.
//!
//! A datagram is dispatched on its first byte (docs/protocol.md 2): STUN is
//! answered as before, handshakes go to `handshakes.rs` (section 3), and
//! TRANSPORT frames to `requests.rs` (section 5), which authenticates them
//! before anything else. Nothing that fails a check creates state or gets
//! an answer, and log lines about dropped datagrams are rate-limited.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use peerd_shared::proto::codec::canonical;
use peerd_shared::proto::cookie::CookieGuard;
use peerd_shared::proto::handshake::Accepted;
use peerd_shared::proto::{Frame, Identity, PublicKey, EXPIRY_KEEPALIVES, MAX_DATAGRAM};
use peerd_shared::PeerId;
use tracing::{debug, info};

use super::args::Limits;
use super::cluster::Cluster;
use super::load::{LoadMeter, LogLimiter};
use super::peers::{Peers, Row};
use super::replay::ReplayCache;
use super::reply_buffer::ReplyBuffer;
use super::stun_port as stun;
use crate::metrics::Counter;
use crate::ratelimit::{RateLimiter, Verdict};

/// A new key's REGISTER, waiting for its id to be on disk.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) accepted: Accepted,
    pub(super) source: SocketAddr,
    pub(super) ts: u64,
}

/// New keys waiting for the database, at most (more are dropped; their
/// daemons retry).
pub(super) const MAX_PENDING: usize = 65_536;
/// How long an unregistered peer's session still answers (a retried
/// UNREGISTER is acknowledged again), ms.
const UNREGISTER_GRACE_MS: u64 = 30_000;

/// The server's state and protocol logic.
#[derive(Debug)]
pub struct Registry {
    pub(super) identity: Identity,
    pub(super) peers: Peers,
    pub(super) pending: HashMap<PeerId, Pending>,
    /// New keys waiting for the cluster database to give them an id.
    pub(super) claims: HashMap<PublicKey, Pending>,
    /// This node's side of the cluster, when it is one.
    pub(super) cluster: Option<Cluster>,
    pub(super) replay: ReplayCache,
    limiter: RateLimiter<SocketAddr>,
    pub(super) handshakes: RateLimiter<IpAddr>,
    /// Answers to protocol v1 datagrams: 10/s per source, 100/s in all.
    legacy: RateLimiter<SocketAddr>,
    pub(super) cookies: CookieGuard,
    pub(super) load: LoadMeter,
    pub(super) logs: LogLimiter,
    /// Announced in REGISTERED and KEEPALIVE_ACK, seconds.
    pub(super) keepalive_secs: u16,
    /// 3 x keepalive, ms.
    expiry_ms: u64,
    epoch: Instant,
    /// Unregistered peers whose session goes at the given ms.
    pub(super) unregistered: VecDeque<(PeerId, u64)>,
    /// Decrypted payloads (reused).
    pub(super) scratch: Vec<u8>,
}

/// 32 random bytes from the operating system (cookie secrets, nonces).
pub(super) fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    if getrandom::fill(&mut b).is_err() {
        // No system randomness: a cookie secret derived from the clock is
        // weak, but cookies only ever decide who must prove its address.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b[..16].copy_from_slice(&t.to_le_bytes());
    }
    b
}

impl Registry {
    /// A registry with the server's `identity`, holding the stored
    /// registrations `rows` (all offline) and the v1 ids up to `reserved`;
    /// times are measured from `epoch`.
    pub fn new(
        identity: Identity,
        limits: Limits,
        rows: impl IntoIterator<Item = Row>,
        reserved: u64,
        epoch: Instant,
    ) -> Self {
        let keepalive_ms = u64::try_from(limits.keepalive.as_millis()).unwrap_or(u64::MAX / 4);
        let handshake_burst = limits.handshake_rate.saturating_mul(2).max(1);
        Self {
            cookies: CookieGuard::new(&identity.public, random32(), epoch),
            identity,
            peers: Peers::load(rows, reserved),
            pending: HashMap::new(),
            claims: HashMap::new(),
            cluster: None,
            replay: ReplayCache::new(limits.replay_capacity),
            limiter: RateLimiter::new(
                limits.rate_per_source,
                limits.burst_per_source,
                limits.global_rate,
            ),
            handshakes: RateLimiter::new(limits.handshake_rate, handshake_burst, 0),
            legacy: RateLimiter::new(10, 10, 100),
            load: LoadMeter::new(limits.cookie_threshold),
            logs: LogLimiter::default(),
            keepalive_secs: u16::try_from(limits.keepalive.as_secs().max(1)).unwrap_or(u16::MAX),
            expiry_ms: keepalive_ms.saturating_mul(u64::from(EXPIRY_KEEPALIVES)),
            epoch,
            unregistered: VecDeque::new(),
            scratch: Vec::with_capacity(peerd_shared::proto::MAX_DATAGRAM),
        }
    }

    pub(super) fn ms(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// True if a peer refreshed last at `last_ms` has expired at `now_ms`.
    pub(super) fn expired(&self, last_ms: u64, now_ms: u64) -> bool {
        now_ms.saturating_sub(last_ms) >= self.expiry_ms
    }

    /// Logs a dropped datagram, at most once a second per reason.
    pub(super) fn dropped(&mut self, reason: &'static str, source: SocketAddr, now_ms: u64) {
        if let Some(skipped) = self.logs.allow(reason, now_ms) {
            if skipped > 0 {
                info!("dropped a datagram from {source}: {reason} ({skipped} more not logged)");
            } else {
                info!("dropped a datagram from {source}: {reason}");
            }
        }
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
        match Frame::parse(datagram) {
            Ok(Frame::Stun) => stun::serve(datagram, source, verdict, out),
            Ok(Frame::Transport(t)) if verdict != Verdict::Drop => {
                self.on_transport(&t, verdict, source, now_ms, out);
            }
            _ if verdict != Verdict::Accept => {
                out.tally.add(Counter::RateLimitedDropped, 1);
                self.dropped("rate limited", source, now_ms);
            }
            Ok(Frame::Init(init)) => self.on_init(&init, source, now, now_ms, out),
            Ok(Frame::KeyRequest) => self.on_key_request(source, now_ms, out),
            Ok(Frame::Legacy) => self.on_legacy(datagram, source, now_ms, out),
            Ok(Frame::Transport(_)) => {}
            Ok(Frame::Resp(_) | Frame::Cookie(_) | Frame::KeyReply(_)) => {
                self.dropped("a frame only a daemon receives", source, now_ms);
            }
            Err(_) => self.dropped("not a protocol v2 frame", source, now_ms),
        }
    }

    /// Answers a protocol v1 JSON datagram with `unsupported_version` when
    /// the answer is not longer than the datagram (docs/protocol.md 7).
    fn on_legacy(
        &mut self,
        datagram: &[u8],
        source: SocketAddr,
        now_ms: u64,
        out: &mut ReplyBuffer,
    ) {
        if datagram.len() > MAX_DATAGRAM {
            // docs/protocol.md 2: a datagram over the limit is dropped.
            return self.dropped("an oversized protocol v1 datagram", source, now_ms);
        }
        if self.legacy.check(source, now_ms) != Verdict::Accept {
            return;
        }
        let seq = serde_json::from_slice::<serde_json::Value>(datagram)
            .ok()
            .and_then(|v| v.get("seq").and_then(serde_json::Value::as_u64))
            .filter(|s| *s <= u64::from(u32::MAX))
            .unwrap_or(0);
        let answer = format!(
            "{{\"v\":1,\"type\":\"ERROR\",\"seq\":{seq},\"code\":\"unsupported_version\",\
             \"message\":\"this server speaks peerd protocol v2\"}}"
        );
        if answer.len() <= datagram.len() {
            out.raw(source, answer.as_bytes());
            out.tally.add(Counter::ErrorUnsupportedVersion, 1);
            info!("protocol v1 datagram from {source}: unsupported_version");
        } else {
            self.dropped("protocol v1 datagram too short to answer", source, now_ms);
        }
    }

    /// The database stored (`stored` true) or failed to store `ids`.
    pub fn on_durable(
        &mut self,
        ids: &[PeerId],
        stored: bool,
        now: Instant,
        out: &mut ReplyBuffer,
    ) {
        let now_ms = self.ms(now);
        for &id in ids {
            let Some(p) = self.pending.remove(&id) else {
                continue;
            };
            if stored {
                out.tally.add(Counter::Registrations, 1);
                self.peers.confirm(id);
                self.complete(id, p.accepted, p.source, p.ts, true, now_ms, out);
            } else {
                self.peers.abandon(id);
                self.refuse_new(Some(id), p, out);
            }
        }
    }

    /// Takes expired peers offline and forgets their sessions, old
    /// replaced sessions, old rate-limit and replay state; replaces the
    /// cookie secret when due. Call about once a second.
    pub fn sweep(&mut self, now: Instant) {
        let now_ms = self.ms(now);
        let expired: Vec<PeerId> = match PeerId::new(1) {
            Some(first) => self
                .peers
                .online_from(first)
                .filter(|(_, p)| self.expired(p.last_ms, now_ms))
                .map(|(id, _)| id)
                .collect(),
            None => Vec::new(),
        };
        for id in expired {
            self.peers.set_offline(id);
            self.peers.drop_sessions(id);
            self.announce_offline(id);
            info!(
                "id {id} expired (no refresh for {} s)",
                self.expiry_ms / 1000
            );
        }
        while let Some(&(id, at)) = self.unregistered.front() {
            if at > now_ms {
                break;
            }
            self.unregistered.pop_front();
            if self.peers.online(id).is_none() {
                self.peers.drop_sessions(id);
            }
        }
        self.peers.sweep_side(now_ms);
        self.limiter.sweep(now_ms);
        self.handshakes.sweep(now_ms);
        self.legacy.sweep(now_ms);
        self.replay.expire(now_ms);
        self.cookies.rotate(now, random32);
        debug!(
            online = self.peers.online_count(),
            ids = self.peers.assigned(),
            pending = self.pending.len() + self.claims.len(),
            rate_tracked = self.limiter.tracked(),
            replay = self.replay.len(),
            "sweep"
        );
    }

    /// Schedules the end of an unregistered peer's session.
    pub(super) fn forget_later(&mut self, id: PeerId, now_ms: u64) {
        self.unregistered
            .push_back((id, now_ms + UNREGISTER_GRACE_MS));
    }

    /// Ids held: registered, pending, or reserved for protocol v1 tokens.
    pub fn known_ids(&self) -> usize {
        self.peers.assigned()
    }

    /// Peers online now (expired ones count until the next sweep).
    pub fn online_count(&self) -> usize {
        self.peers.online_count()
    }
}
