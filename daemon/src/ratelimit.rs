//! Token-bucket rate limiting per key (a source ip:port for datagrams, a
//! source IP for handshakes), with a global cap.
//!
//! Each source has a bucket of `burst` datagrams that refills at `rate` per
//! second; the whole server has one bucket of `global` datagrams refilling at
//! `global` per second. Buckets are kept in milli-datagrams so the arithmetic
//! stays in integers. A bucket that has refilled completely carries no
//! information and is dropped by [`RateLimiter::sweep`], so the map only holds
//! sources that were active in the last `burst / rate` seconds.
//!
//! When a datagram is refused, the server answers `rate_limited` at most
//! [`NOTICES_PER_SECOND`] times per second per source and
//! [`GLOBAL_NOTICES_PER_SECOND`] times per second overall; the rest of a
//! flood is dropped without any work.

use std::collections::HashMap;
use std::hash::Hash;

/// `rate_limited` answers per source and second, at most.
pub const NOTICES_PER_SECOND: u64 = 10;
/// `rate_limited` answers per second over all sources, at most.
pub const GLOBAL_NOTICES_PER_SECOND: u64 = 2_000;

const MILLI: u64 = 1000;

/// What to do with one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limits: serve it.
    Accept,
    /// Over a limit: answer `rate_limited` (JSON) or drop (STUN).
    Notify,
    /// Over a limit and a notice was sent recently: drop silently.
    Drop,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Milli-datagrams available.
    level: u64,
    /// When `level` was last brought up to date, ms since the registry epoch.
    at_ms: u64,
    /// When this source was last sent a `rate_limited`, ms since the epoch.
    noticed_ms: u64,
}

impl Bucket {
    fn full(capacity: u64, now_ms: u64) -> Self {
        Self {
            level: capacity,
            at_ms: now_ms,
            noticed_ms: 0,
        }
    }

    /// Refills by elapsed time and takes one datagram if there is one.
    fn take(&mut self, rate: u64, capacity: u64, now_ms: u64) -> bool {
        let elapsed = now_ms.saturating_sub(self.at_ms);
        self.level = capacity.min(self.level.saturating_add(elapsed.saturating_mul(rate)));
        self.at_ms = now_ms;
        if self.level >= MILLI {
            self.level -= MILLI;
            true
        } else {
            false
        }
    }

    fn refilled(&self, rate: u64, capacity: u64, now_ms: u64) -> bool {
        let elapsed = now_ms.saturating_sub(self.at_ms);
        self.level.saturating_add(elapsed.saturating_mul(rate)) >= capacity
    }
}

/// The limiter: one bucket per active source plus the global bucket.
#[derive(Debug)]
pub struct RateLimiter<K> {
    /// Datagrams per second per source (0 = unlimited).
    rate: u64,
    /// Milli-datagrams per source bucket.
    capacity: u64,
    /// Datagrams per second overall (0 = unlimited).
    global_rate: u64,
    global: Bucket,
    sources: HashMap<K, Bucket>,
    /// Notices sent in the current second (`notice_second`).
    notices: u64,
    notice_second: u64,
}

impl<K: Hash + Eq + Copy> RateLimiter<K> {
    /// `rate` per source with a bucket of `burst`, and `global` overall
    /// (with a one-second burst); 0 disables either limit.
    pub fn new(rate: u32, burst: u32, global: u32) -> Self {
        let global_rate = u64::from(global);
        Self {
            rate: u64::from(rate),
            capacity: u64::from(burst.max(1)) * MILLI,
            global_rate,
            global: Bucket::full(global_rate * MILLI, 0),
            sources: HashMap::new(),
            notices: 0,
            notice_second: 0,
        }
    }

    /// Charges one datagram from `source` at `now_ms`.
    pub fn check(&mut self, source: K, now_ms: u64) -> Verdict {
        let mut over = false;
        if self.global_rate > 0 {
            over |= !self
                .global
                .take(self.global_rate, self.global_rate * MILLI, now_ms);
        }
        if self.rate == 0 {
            if !over {
                return Verdict::Accept;
            }
            return self.notice_global(now_ms);
        }
        let (rate, capacity) = (self.rate, self.capacity);
        let bucket = self
            .sources
            .entry(source)
            .or_insert_with(|| Bucket::full(capacity, now_ms));
        if !over && bucket.take(rate, capacity, now_ms) {
            return Verdict::Accept;
        }
        if now_ms.saturating_sub(bucket.noticed_ms) < MILLI / NOTICES_PER_SECOND
            && bucket.noticed_ms != 0
        {
            return Verdict::Drop;
        }
        let verdict = self.notice_global(now_ms);
        if verdict == Verdict::Notify {
            if let Some(b) = self.sources.get_mut(&source) {
                b.noticed_ms = now_ms.max(1);
            }
        }
        verdict
    }

    /// Charges one datagram to the overall limit alone (no source's
    /// bucket): accepted or dropped.
    pub fn check_global(&mut self, now_ms: u64) -> Verdict {
        let fits = self.global_rate == 0
            || self
                .global
                .take(self.global_rate, self.global_rate * MILLI, now_ms);
        if fits {
            Verdict::Accept
        } else {
            Verdict::Drop
        }
    }

    fn notice_global(&mut self, now_ms: u64) -> Verdict {
        let second = now_ms / MILLI;
        if second != self.notice_second {
            self.notice_second = second;
            self.notices = 0;
        }
        if self.notices >= GLOBAL_NOTICES_PER_SECOND {
            return Verdict::Drop;
        }
        self.notices += 1;
        Verdict::Notify
    }

    /// Forgets sources whose bucket is full again.
    pub fn sweep(&mut self, now_ms: u64) {
        let (rate, capacity) = (self.rate, self.capacity);
        self.sources
            .retain(|_, b| !b.refilled(rate, capacity, now_ms));
    }

    /// Sources currently tracked.
    pub fn tracked(&self) -> usize {
        self.sources.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn per_source_burst_then_refill() {
        let mut rl = RateLimiter::<SocketAddr>::new(10, 5, 0);
        for _ in 0..5 {
            assert_eq!(rl.check(addr(1), 1000), Verdict::Accept);
        }
        assert_eq!(rl.check(addr(1), 1000), Verdict::Notify);
        assert_eq!(rl.check(addr(1), 1000), Verdict::Drop);
        // Another source behind the same IP has its own bucket.
        assert_eq!(rl.check(addr(2), 1000), Verdict::Accept);
        // 100 ms later one datagram has refilled.
        assert_eq!(rl.check(addr(1), 1100), Verdict::Accept);
        assert_eq!(rl.check(addr(1), 1100), Verdict::Notify);
    }

    #[test]
    fn global_cap_applies_across_sources() {
        let mut rl = RateLimiter::<SocketAddr>::new(0, 1, 3);
        for port in 1..=3 {
            assert_eq!(rl.check(addr(port), 5000), Verdict::Accept);
        }
        assert_eq!(rl.check(addr(4), 5000), Verdict::Notify);
        assert_eq!(rl.check(addr(4), 6000), Verdict::Accept);
    }

    #[test]
    fn sweep_forgets_refilled_sources() {
        let mut rl = RateLimiter::<SocketAddr>::new(10, 5, 0);
        rl.check(addr(1), 1000);
        rl.sweep(1010);
        assert_eq!(rl.tracked(), 1);
        rl.sweep(1100);
        assert_eq!(rl.tracked(), 0);
    }

    #[test]
    fn disabled_limits_accept_everything() {
        let mut rl = RateLimiter::<SocketAddr>::new(0, 1, 0);
        for _ in 0..10_000 {
            assert_eq!(rl.check(addr(1), 0), Verdict::Accept);
        }
        assert_eq!(rl.tracked(), 0);
    }

    #[test]
    fn the_global_check_alone_makes_no_source_bucket() {
        let mut r: RateLimiter<u8> = RateLimiter::new(1, 1, 2);
        assert_eq!(r.check_global(0), Verdict::Accept);
        assert_eq!(r.check_global(0), Verdict::Accept);
        assert_eq!(r.check_global(0), Verdict::Drop, "two a second in all");
        assert_eq!(r.tracked(), 0, "no source bucket");
        assert_eq!(
            r.check_global(1000),
            Verdict::Accept,
            "refilled a second later"
        );
        let mut open: RateLimiter<u8> = RateLimiter::new(1, 1, 0);
        assert!((0..100).all(|_| open.check_global(0) == Verdict::Accept));
    }
}
