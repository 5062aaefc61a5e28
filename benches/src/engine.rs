//! The generator's hot loop, one per thread: a level-triggered epoll over
//! the thread's peers; each readable peer is drained with one `recvmmsg`
//! (or plain `recv`s), every reply is matched to its outstanding request,
//! and the freed window is refilled with one `sendmmsg` (or plain `send`s).
//! A sweep every [`SWEEP`] turns requests older than the timeout into losses
//! and refills their slots, so a lost datagram never stalls a peer.
//!
//! What a request looks like and what makes a reply right is the
//! [`Workload`]'s business; the engine only counts and times.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::error::BenchError;
use crate::peers::{Peer, Slot};
use crate::sys::{Batch, Poller};

/// How often outstanding requests are checked for the loss timeout.
pub const SWEEP: Duration = Duration::from_millis(20);
/// Room in the receive batch beyond the window (server pushes such as INTRO).
const RECV_EXTRA: usize = 4;

/// What a workload made of one received datagram.
pub enum Parsed<B> {
    /// The reply to the request numbered `seq`.
    Reply { seq: u32, body: B },
    /// A server push the peer ignores (INTRO after someone's CONNECT).
    Push,
    /// Not a datagram this workload can make sense of.
    Garbage,
}

/// Whether a reply is what the request deserved.
pub enum Verdict {
    Ok,
    /// An ERROR reply (or a STUN error response), by code.
    Error(&'static str),
    /// A reply of the right number but the wrong content.
    Invalid,
}

/// One kind of load: builds requests and judges replies for the peers of
/// one thread (`peer` is the index within the thread).
pub trait Workload: Send {
    /// A parsed reply, handed back to [`Workload::judge`].
    type Body;
    /// Writes request `seq` of `peer` into `buf`; returns its length and a
    /// tag the engine keeps with the request for [`Workload::judge`].
    fn request(&mut self, peer: usize, seq: u32, buf: &mut [u8]) -> (usize, u64);
    /// Reads one datagram received by `peer`.
    fn parse(&mut self, peer: usize, datagram: &[u8]) -> Parsed<Self::Body>;
    /// Judges the reply to the request that carried `tag`.
    fn judge(&mut self, peer: usize, local: SocketAddr, tag: u64, body: Self::Body) -> Verdict;
}

/// Timing of one measured run.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Requests outstanding per peer.
    pub window: usize,
    /// A request unanswered this long counts as lost.
    pub timeout: Duration,
    /// Counting starts here (after the warm-up).
    pub measure_from: Instant,
    /// Sending stops here.
    pub end: Instant,
    /// Use `recvmmsg`/`sendmmsg` instead of one call per datagram.
    pub batch: bool,
}

/// What one thread counted between `measure_from` and `end`.
pub struct Stats {
    pub ok: u64,
    pub errors: BTreeMap<&'static str, u64>,
    pub lost: u64,
    /// Replies whose request was already counted lost, or duplicates.
    pub late: u64,
    pub invalid: u64,
    pub garbage: u64,
    pub pushes: u64,
    pub sent: u64,
    /// Socket errors on send/recv (refused, buffer full).
    pub io_errors: u64,
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
            io_errors: 0,
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
        self.lost += other.lost;
        self.late += other.late;
        self.invalid += other.invalid;
        self.garbage += other.garbage;
        self.pushes += other.pushes;
        self.sent += other.sent;
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

/// Runs `workload` over `peers` until `sched.end`.
pub fn run<W: Workload>(
    mut peers: Vec<Peer>,
    mut workload: W,
    sched: Schedule,
) -> Result<Stats, BenchError> {
    let mut poller =
        Poller::new(peers.len().min(1024)).map_err(|e| BenchError::io("cannot create epoll", e))?;
    for (i, p) in peers.iter().enumerate() {
        poller
            .add(p.fd(), i as u64)
            .map_err(|e| BenchError::io("cannot watch a peer socket", e))?;
    }
    let mut batch = Batch::new(sched.window + RECV_EXTRA);
    let mut stats = Stats::new();
    for (i, peer) in peers.iter_mut().enumerate() {
        fill(peer, i, &mut workload, &mut batch, &sched, &mut stats);
    }
    let mut ready = Vec::with_capacity(1024);
    let mut next_sweep = Instant::now() + SWEEP;
    loop {
        let now = Instant::now();
        if now >= sched.end {
            break;
        }
        if now >= next_sweep {
            sweep(
                &mut peers,
                &mut workload,
                &mut batch,
                &sched,
                &mut stats,
                now,
            );
            next_sweep = now + SWEEP;
        }
        let wait = next_sweep.min(sched.end).saturating_duration_since(now);
        poller
            .wait(wait.max(Duration::from_millis(1)), &mut ready)
            .map_err(|e| BenchError::io("epoll_wait failed", e))?;
        for &token in &ready {
            let i = usize::try_from(token).unwrap_or(usize::MAX);
            let Some(peer) = peers.get_mut(i) else {
                continue;
            };
            receive(peer, i, &mut workload, &mut batch, &sched, &mut stats);
            fill(peer, i, &mut workload, &mut batch, &sched, &mut stats);
        }
    }
    Ok(stats)
}

fn counting(sched: &Schedule, now: Instant) -> bool {
    now >= sched.measure_from
}

/// Reads what `peer` has waiting and settles the requests it answers.
fn receive<W: Workload>(
    peer: &mut Peer,
    i: usize,
    workload: &mut W,
    batch: &mut Batch,
    sched: &Schedule,
    stats: &mut Stats,
) {
    // Read as many as are outstanding, not until EAGAIN: the poller is
    // level-triggered, so anything left (a push, an early reply) is reported
    // again, and the usual wake-up costs no empty extra read.
    let max = peer.slots.len().clamp(1, sched.window + RECV_EXTRA);
    let got = if sched.batch {
        match batch.recv(peer.fd(), max) {
            Ok(n) => n,
            Err(_) => {
                stats.io_errors += 1;
                0
            }
        }
    } else {
        let mut n = 0;
        while n < max {
            match peer.sock.recv(batch.slot_mut(n)) {
                Ok(len) => {
                    batch.set_len(n, len);
                    n += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    stats.io_errors += 1;
                    break;
                }
            }
        }
        n
    };
    let now = Instant::now();
    let count = counting(sched, now);
    for k in 0..got {
        let parsed = workload.parse(i, batch.datagram(k));
        match parsed {
            Parsed::Push => stats.pushes += 1,
            Parsed::Garbage => stats.garbage += 1,
            Parsed::Reply { seq, body } => {
                let Some(slot) = peer.take(seq) else {
                    stats.late += 1;
                    continue;
                };
                let verdict = workload.judge(i, peer.local, slot.tag, body);
                if !count {
                    continue;
                }
                match verdict {
                    Verdict::Ok => {
                        stats.ok += 1;
                        let ns = now.saturating_duration_since(slot.sent).as_nanos();
                        stats
                            .latency
                            .saturating_record(u64::try_from(ns).unwrap_or(u64::MAX).max(1));
                    }
                    Verdict::Error(code) => *stats.errors.entry(code).or_default() += 1,
                    Verdict::Invalid => stats.invalid += 1,
                }
            }
        }
    }
}

/// Sends new requests until `peer` has a full window outstanding.
fn fill<W: Workload>(
    peer: &mut Peer,
    i: usize,
    workload: &mut W,
    batch: &mut Batch,
    sched: &Schedule,
    stats: &mut Stats,
) {
    let free = sched.window.saturating_sub(peer.slots.len());
    if free == 0 || Instant::now() >= sched.end {
        return;
    }
    let first = peer.slots.len();
    for k in 0..free {
        let seq = peer.next_seq;
        peer.next_seq = peer.next_seq.wrapping_add(1);
        let (len, tag) = workload.request(i, seq, batch.slot_mut(k));
        batch.set_len(k, len);
        peer.slots.push(Slot {
            seq,
            sent: Instant::now(),
            tag,
        });
    }
    let sent = if sched.batch {
        batch.send(peer.fd(), free).unwrap_or(0)
    } else {
        let mut n = 0;
        while n < free && peer.sock.send(batch.datagram(n)).is_ok() {
            n += 1;
        }
        n
    };
    if sent < free {
        // The rest never left: forget them; the sweep refills the window.
        stats.io_errors += 1;
        peer.slots.truncate(first + sent);
    }
    if counting(sched, Instant::now()) {
        stats.sent += sent as u64;
    }
}

/// Counts requests past the timeout as lost and refills every window.
fn sweep<W: Workload>(
    peers: &mut [Peer],
    workload: &mut W,
    batch: &mut Batch,
    sched: &Schedule,
    stats: &mut Stats,
    now: Instant,
) {
    let count = counting(sched, now);
    for (i, peer) in peers.iter_mut().enumerate() {
        let before = peer.slots.len();
        peer.slots
            .retain(|s| now.saturating_duration_since(s.sent) < sched.timeout);
        if count {
            stats.lost += (before - peer.slots.len()) as u64;
        }
        fill(peer, i, workload, batch, sched, stats);
    }
}
