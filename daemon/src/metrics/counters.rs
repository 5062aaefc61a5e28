//! What `peerd server` counts, and how the counts leave the hot threads.
//!
//! Each serving thread (the registry's and every STUN thread) counts into
//! its own plain [`Counters`] (an array of `u64`, no atomics, no sharing),
//! and, only when metrics are on, copies it into its own [`Board`] slot
//! once per wake-up of its loop ([`Publisher::publish`]: one `Relaxed`
//! store per counter, to a cache line no other thread writes). A scrape
//! sums the slots. So the per-datagram cost is an add to a register-hot
//! array whether metrics are on or off.
//!
//! Adding a counter: a variant of [`Counter`] and its row in [`DEFS`] (the
//! unit test checks the order); it is then exported with the others.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use peerd_shared::proto::{Body, ErrorCode};

/// One thing counted. The order is [`DEFS`]' order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    DatagramsReceived,
    DatagramsSent,
    RequestKeepalive,
    RequestList,
    RequestConnect,
    RequestUnregister,
    RequestRelay,
    RequestOther,
    RequestInvalid,
    ErrorBadRequest,
    ErrorUnknownType,
    ErrorUnsupportedVersion,
    ErrorTooLarge,
    ErrorUnauthorized,
    ErrorUnknownPeer,
    ErrorPeerOffline,
    ErrorRateLimited,
    ErrorInternal,
    Registrations,
    Handshakes,
    HandshakesDropped,
    CookieReplies,
    KeyReplies,
    RelayedDatagrams,
    RelayedBytes,
    RateLimitedDropped,
    StunAnswers,
    HandoffDropped,
}

/// How many counters there are.
pub const COUNTERS: usize = Counter::HandoffDropped as usize + 1;

impl Counter {
    /// The request counter of an authenticated, decoded payload.
    pub fn request(body: &Body<'_>) -> Self {
        match body {
            Body::Keepalive { .. } => Self::RequestKeepalive,
            Body::List { .. } => Self::RequestList,
            Body::Connect { .. } => Self::RequestConnect,
            Body::Unregister { .. } => Self::RequestUnregister,
            Body::Relay { .. } => Self::RequestRelay,
            _ => Self::RequestOther,
        }
    }

    /// The counter of ERROR replies with `code`.
    pub fn error(code: ErrorCode) -> Self {
        match code {
            ErrorCode::BadRequest => Self::ErrorBadRequest,
            ErrorCode::UnknownType => Self::ErrorUnknownType,
            ErrorCode::UnsupportedVersion => Self::ErrorUnsupportedVersion,
            ErrorCode::TooLarge => Self::ErrorTooLarge,
            ErrorCode::Unauthorized => Self::ErrorUnauthorized,
            ErrorCode::UnknownPeer => Self::ErrorUnknownPeer,
            ErrorCode::PeerOffline => Self::ErrorPeerOffline,
            ErrorCode::RateLimited => Self::ErrorRateLimited,
            // The server never sends a code it does not know.
            ErrorCode::Internal | ErrorCode::Other(_) => Self::ErrorInternal,
        }
    }
}

/// How a counter is exported: the family's name (without `_total`), its
/// help, and the one label that tells the family's members apart.
#[derive(Debug)]
pub struct Def {
    pub counter: Counter,
    pub family: &'static str,
    pub help: &'static str,
    pub label: Option<(&'static str, &'static str)>,
}

const fn def(
    counter: Counter,
    family: &'static str,
    help: &'static str,
    label: Option<(&'static str, &'static str)>,
) -> Def {
    Def {
        counter,
        family,
        help,
        label,
    }
}

const REQUESTS: &str = "peerd_server_requests";
const REQUESTS_HELP: &str =
    "Authenticated requests served, by type; other = a kind the server does not serve, \
     invalid = did not decode";
const ERRORS: &str = "peerd_server_errors";
const ERRORS_HELP: &str = "ERROR replies sent, by code";
const DATAGRAMS: &str = "peerd_server_datagrams";
const DATAGRAMS_HELP: &str = "UDP datagrams received and sent, STUN included";

/// Every counter, in [`Counter`] order; members of one family are adjacent
/// and labelled.
#[rustfmt::skip]
pub const DEFS: [Def; COUNTERS] = [
    def(Counter::DatagramsReceived, DATAGRAMS, DATAGRAMS_HELP, Some(("direction", "received"))),
    def(Counter::DatagramsSent, DATAGRAMS, DATAGRAMS_HELP, Some(("direction", "sent"))),
    def(Counter::RequestKeepalive, REQUESTS, REQUESTS_HELP, Some(("type", "keepalive"))),
    def(Counter::RequestList, REQUESTS, REQUESTS_HELP, Some(("type", "list"))),
    def(Counter::RequestConnect, REQUESTS, REQUESTS_HELP, Some(("type", "connect"))),
    def(Counter::RequestUnregister, REQUESTS, REQUESTS_HELP, Some(("type", "unregister"))),
    def(Counter::RequestRelay, REQUESTS, REQUESTS_HELP, Some(("type", "relay"))),
    def(Counter::RequestOther, REQUESTS, REQUESTS_HELP, Some(("type", "other"))),
    def(Counter::RequestInvalid, REQUESTS, REQUESTS_HELP, Some(("type", "invalid"))),
    def(Counter::ErrorBadRequest, ERRORS, ERRORS_HELP, Some(("code", "bad_request"))),
    def(Counter::ErrorUnknownType, ERRORS, ERRORS_HELP, Some(("code", "unknown_type"))),
    def(Counter::ErrorUnsupportedVersion, ERRORS, ERRORS_HELP, Some(("code", "unsupported_version"))),
    def(Counter::ErrorTooLarge, ERRORS, ERRORS_HELP, Some(("code", "too_large"))),
    def(Counter::ErrorUnauthorized, ERRORS, ERRORS_HELP, Some(("code", "unauthorized"))),
    def(Counter::ErrorUnknownPeer, ERRORS, ERRORS_HELP, Some(("code", "unknown_peer"))),
    def(Counter::ErrorPeerOffline, ERRORS, ERRORS_HELP, Some(("code", "peer_offline"))),
    def(Counter::ErrorRateLimited, ERRORS, ERRORS_HELP, Some(("code", "rate_limited"))),
    def(Counter::ErrorInternal, ERRORS, ERRORS_HELP, Some(("code", "internal"))),
    def(Counter::Registrations, "peerd_server_registrations", "New ids given to new keys (stored durably)", None),
    def(Counter::Handshakes, "peerd_server_handshakes", "REGISTER handshakes answered with REGISTERED (new keys and known ones, re-keys included)", None),
    def(Counter::HandshakesDropped, "peerd_server_handshakes_dropped", "HANDSHAKE_INITs dropped: over the per-IP limit, bad mac1, not decrypting, replayed", None),
    def(Counter::CookieReplies, "peerd_server_cookie_replies", "COOKIE_REPLYs sent to handshakes without a valid cookie while under load", None),
    def(Counter::KeyReplies, "peerd_server_key_replies", "KEY_REPLYs sent (a daemon asking for the server's key)", None),
    def(Counter::RelayedDatagrams, "peerd_server_relayed_datagrams", "RELAYED datagrams sent for RELAY requests", None),
    def(Counter::RelayedBytes, "peerd_server_relayed_bytes", "Bytes of RELAY data carried in the RELAYED datagrams sent (the data alone, without framing)", None),
    def(Counter::RateLimitedDropped, "peerd_server_rate_limited_dropped", "Datagrams the rate limiter dropped without an answer (those answered count as errors{code=\"rate_limited\"})", None),
    def(Counter::StunAnswers, "peerd_server_stun_answers", "STUN Binding success responses sent", None),
    def(Counter::HandoffDropped, "peerd_server_handoff_dropped", "Non-STUN datagrams a STUN thread dropped because the registry thread's queue was full", None),
];

/// One sampled value, set by the registry thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gauge {
    OnlinePeers,
    KnownIds,
}

/// How many gauges there are.
pub const GAUGES: usize = Gauge::KnownIds as usize + 1;

/// Gauges' names and help, in [`Gauge`] order.
pub const GAUGE_DEFS: [(Gauge, &str, &str); GAUGES] = [
    (
        Gauge::OnlinePeers,
        "peerd_server_online_peers",
        "Peers online now",
    ),
    (
        Gauge::KnownIds,
        "peerd_server_known_ids",
        "Ids ever given (registered, pending or abandoned)",
    ),
];

/// A thread's own counts: plain integers, never shared.
#[derive(Debug, Clone)]
pub struct Counters([u64; COUNTERS]);

impl Default for Counters {
    fn default() -> Self {
        Self([0; COUNTERS])
    }
}

impl Counters {
    /// Adds `n` to `counter`.
    #[inline]
    pub fn add(&mut self, counter: Counter, n: u64) {
        let c = &mut self.0[counter as usize];
        *c = c.wrapping_add(n);
    }

    /// The count of `counter`.
    pub fn get(&self, counter: Counter) -> u64 {
        self.0[counter as usize]
    }
}

/// One thread's published counts, on cache lines of its own.
#[derive(Debug)]
#[repr(align(64))]
struct Slot([AtomicU64; COUNTERS]);

impl Slot {
    fn new() -> Self {
        Self(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

/// The published counts of every serving thread, read at scrape time.
#[derive(Debug)]
pub struct Board {
    slots: Box<[Slot]>,
    gauges: [AtomicU64; GAUGES],
    /// When the server started, for `peerd_server_start_time_seconds`.
    pub started: SystemTime,
    epoch: Instant,
    /// The registry thread's last sign of life, ms since `epoch`.
    beat_ms: AtomicU64,
}

impl Board {
    /// A board for `threads` serving threads (slot 0: the registry's).
    pub fn new(threads: usize) -> Arc<Self> {
        Arc::new(Self {
            slots: (0..threads.max(1)).map(|_| Slot::new()).collect(),
            gauges: std::array::from_fn(|_| AtomicU64::new(0)),
            started: SystemTime::now(),
            epoch: Instant::now(),
            beat_ms: AtomicU64::new(0),
        })
    }

    fn ms(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// True if the registry thread showed a sign of life ([`Publisher::beat`])
    /// within `max_age` of `now` (or since the board was made).
    pub fn alive(&self, now: Instant, max_age: Duration) -> bool {
        let age = self
            .ms(now)
            .saturating_sub(self.beat_ms.load(Ordering::Relaxed));
        u128::from(age) <= max_age.as_millis()
    }

    /// The publisher of thread `index` (one per thread; `index` is taken
    /// modulo the number of slots).
    pub fn publisher(self: &Arc<Self>, index: usize) -> Publisher {
        Publisher {
            board: self.clone(),
            index: index % self.slots.len(),
        }
    }

    /// The sum of `counter` over every thread.
    pub fn total(&self, counter: Counter) -> u64 {
        self.slots
            .iter()
            .map(|s| s.0[counter as usize].load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }

    /// The last value of `gauge`.
    pub fn gauge(&self, gauge: Gauge) -> u64 {
        self.gauges[gauge as usize].load(Ordering::Relaxed)
    }
}

/// A serving thread's handle on its slot of the [`Board`].
#[derive(Debug, Clone)]
pub struct Publisher {
    board: Arc<Board>,
    index: usize,
}

impl Publisher {
    /// Copies the thread's counts to its slot (the thread is the slot's
    /// only writer, so a store is enough).
    pub fn publish(&self, counts: &Counters) {
        let slot = &self.board.slots[self.index];
        for (to, &n) in slot.0.iter().zip(counts.0.iter()) {
            to.store(n, Ordering::Relaxed);
        }
    }

    /// Sets `gauge` (call from one thread only: the registry's).
    pub fn set(&self, gauge: Gauge, value: u64) {
        self.board.gauges[gauge as usize].store(value, Ordering::Relaxed);
    }

    /// Records a sign of life of the calling thread at `now`, for
    /// `/healthz` (call from the registry thread only).
    pub fn beat(&self, now: Instant) {
        let ms = self.board.ms(now);
        self.board.beat_ms.store(ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defs_are_in_counter_order_and_families_are_adjacent() {
        for (i, d) in DEFS.iter().enumerate() {
            assert_eq!(d.counter as usize, i, "{:?} out of place", d.counter);
            assert!(!d.family.ends_with("_total"), "{}", d.family);
        }
        for (i, d) in DEFS.iter().enumerate() {
            let seen_before = DEFS[..i].iter().any(|e| e.family == d.family);
            let just_before = i > 0 && DEFS[i - 1].family == d.family;
            assert!(!seen_before || just_before, "{} is split", d.family);
            let members = DEFS.iter().filter(|e| e.family == d.family).count();
            assert!(
                members == 1 || d.label.is_some(),
                "{:?} unlabelled",
                d.counter
            );
        }
        for (i, (g, _, _)) in GAUGE_DEFS.iter().enumerate() {
            assert_eq!(*g as usize, i);
        }
    }

    #[test]
    fn every_error_code_and_request_type_has_its_counter() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::UnknownType,
            ErrorCode::UnsupportedVersion,
            ErrorCode::TooLarge,
            ErrorCode::Unauthorized,
            ErrorCode::UnknownPeer,
            ErrorCode::PeerOffline,
            ErrorCode::RateLimited,
            ErrorCode::Internal,
        ] {
            let d = &DEFS[Counter::error(code) as usize];
            assert_eq!(d.label, Some(("code", code.as_str())));
        }
        let target = peerd_shared::PeerId::new(2).expect("an id");
        let seq = peerd_shared::Seq(1);
        for (body, name) in [
            (Body::Keepalive { seq }, "keepalive"),
            (Body::List { seq, after: 0 }, "list"),
            (Body::Connect { seq, target }, "connect"),
            (Body::Unregister { seq }, "unregister"),
            (
                Body::Relay {
                    seq,
                    target,
                    data: b"x",
                },
                "relay",
            ),
            (Body::Probe { nonce: 1 }, "other"),
        ] {
            assert_eq!(
                DEFS[Counter::request(&body) as usize].label,
                Some(("type", name))
            );
        }
    }

    #[test]
    fn scrape_sums_the_threads() {
        let board = Board::new(3);
        let (a, b) = (board.publisher(0), board.publisher(2));
        let mut ca = Counters::default();
        let mut cb = Counters::default();
        ca.add(Counter::StunAnswers, 5);
        cb.add(Counter::StunAnswers, 7);
        cb.add(Counter::RelayedBytes, 100);
        a.publish(&ca);
        b.publish(&cb);
        assert_eq!(board.total(Counter::StunAnswers), 12);
        assert_eq!(board.total(Counter::RelayedBytes), 100);
        ca.add(Counter::StunAnswers, 1);
        a.publish(&ca);
        assert_eq!(board.total(Counter::StunAnswers), 13, "a publish replaces");
        a.set(Gauge::OnlinePeers, 4);
        assert_eq!(board.gauge(Gauge::OnlinePeers), 4);
    }

    #[test]
    fn alive_follows_the_beats_on_a_given_clock() {
        let board = Board::new(1);
        let p = board.publisher(0);
        let t0 = Instant::now();
        let max = Duration::from_secs(10);
        assert!(board.alive(t0, max));
        assert!(!board.alive(t0 + Duration::from_secs(11), max));
        p.beat(t0 + Duration::from_secs(8));
        assert!(board.alive(t0 + Duration::from_secs(18), max));
        assert!(!board.alive(t0 + Duration::from_secs(19), max));
    }
}
