//! What a generator thread counts: requests sent in the measured interval
//! and how each was settled, the replies that fit no request, and the
//! latency of the answered ones. Threads' counts are merged for the report.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

/// What one thread counted of the requests sent in the measured interval.
pub struct Stats {
    pub ok: u64,
    pub errors: BTreeMap<&'static str, u64>,
    pub lost: u64,
    /// Replies to requests already settled (lost), or duplicates.
    pub late: u64,
    pub invalid: u64,
    pub garbage: u64,
    pub pushes: u64,
    pub sent: u64,
    /// Requests sent again on the server's demand (COOKIE_REPLY).
    pub retries: u64,
    /// Paced requests no peer could take (every window full).
    pub unsent: u64,
    /// Socket errors on send/recv (refused, buffer full).
    pub io_errors: u64,
    /// Counters of one workload (e.g. `inline_inits`).
    pub notes: BTreeMap<&'static str, u64>,
    /// Round-trip times of answered requests, in nanoseconds.
    pub latency: Histogram<u64>,
}

impl Stats {
    /// Empty counters and histogram (1 ns .. 100 s, 3 significant digits).
    pub fn new() -> Self {
        Self {
            ok: 0,
            errors: BTreeMap::new(),
            lost: 0,
            late: 0,
            invalid: 0,
            garbage: 0,
            pushes: 0,
            sent: 0,
            retries: 0,
            unsent: 0,
            io_errors: 0,
            notes: BTreeMap::new(),
            latency: Histogram::new_with_bounds(1, 100_000_000_000, 3)
                .expect("static histogram bounds are valid"),
        }
    }

    /// Adds another thread's counts.
    pub fn merge(&mut self, other: &Stats) {
        self.ok += other.ok;
        for (code, n) in &other.errors {
            *self.errors.entry(code).or_default() += n;
        }
        for (name, n) in &other.notes {
            *self.notes.entry(name).or_default() += n;
        }
        self.lost += other.lost;
        self.late += other.late;
        self.invalid += other.invalid;
        self.garbage += other.garbage;
        self.pushes += other.pushes;
        self.sent += other.sent;
        self.retries += other.retries;
        self.unsent += other.unsent;
        self.io_errors += other.io_errors;
        // Both histograms share bounds, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
    }
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}
