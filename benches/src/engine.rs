//! The generator's hot loop, one per thread: a level-triggered epoll over
//! the thread's peers; each readable peer is drained with one `recvmmsg`
//! (or plain `recv`s), every reply is matched to its outstanding request,
//! and the freed window is refilled with one `sendmmsg` (or plain `send`s).
//! A sweep every [`SWEEP`] turns requests older than the timeout into losses
//! and refills their slots, so a lost datagram never stalls a peer.
//!
//! Paced runs (`Schedule::rate`) send at a fixed rate instead, round-robin
//! over the peers, and refill nothing: a peer whose window is full when
//! its turn comes is passed over, and a request no peer could take is
//! counted `unsent`.
//!
//! A request counts when it was sent within the measured interval, and
//! every such request is settled: after the interval the loop stops
//! sending and keeps reading until each has its answer or its timeout.
//! So `sent = ok + errors + invalid + lost`.
//!
//! What a request looks like and what makes a reply right is the
//! [`Workload`]'s business; the engine only counts and times, into
//! [`Stats`].

use std::io;
use std::time::{Duration, Instant};

use crate::error::BenchError;
use crate::peers::{Peer, Slot};
use crate::sys::{Batch, Poller};

pub use crate::stats::Stats;
pub use crate::workload::{Parsed, Verdict, Workload};

/// How often outstanding requests are checked for the loss timeout.
pub const SWEEP: Duration = Duration::from_millis(20);
/// Room in the receive batch beyond the window (server pushes such as INTRO).
const RECV_EXTRA: usize = 4;
/// How often a paced run sends what has fallen due.
const PACE_TICK: Duration = Duration::from_millis(1);

/// Timing of one measured run.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Requests outstanding per peer (at most).
    pub window: usize,
    /// A request unanswered this long counts as lost.
    pub timeout: Duration,
    /// Sending starts here.
    pub start: Instant,
    /// Counting starts here (after the warm-up).
    pub measure_from: Instant,
    /// Sending stops here.
    pub end: Instant,
    /// Use `recvmmsg`/`sendmmsg` instead of one call per datagram.
    pub batch: bool,
    /// Requests per second of this thread, when paced.
    pub rate: Option<f64>,
}

/// The loop's state besides the peers and the workload.
struct Run {
    sched: Schedule,
    batch: Batch,
    stats: Stats,
    /// Counted requests not settled yet.
    open: u64,
    /// Paced: requests issued (or passed over) so far, and the next peer.
    issued: u64,
    cursor: usize,
    /// The requests of one refill (reused).
    made: Vec<(u32, u64)>,
}

/// Runs `workload` over `peers` until `sched.end`, then settles what is
/// still outstanding.
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
    let mut r = Run {
        sched,
        batch: Batch::new(sched.window + RECV_EXTRA),
        stats: Stats::new(),
        open: 0,
        issued: 0,
        cursor: 0,
        made: Vec::with_capacity(sched.window),
    };
    sleep_until(sched.start);
    if sched.rate.is_none() {
        for (i, peer) in peers.iter_mut().enumerate() {
            r.fill(peer, i, &mut workload);
        }
    }
    let mut ready = Vec::with_capacity(1024);
    let mut next_sweep = Instant::now() + SWEEP;
    let settle_by = sched.end + sched.timeout + SWEEP;
    loop {
        let now = Instant::now();
        if now >= sched.end && (r.open == 0 || now >= settle_by) {
            break;
        }
        if now >= next_sweep {
            r.sweep(&mut peers, &mut workload, now);
            next_sweep = now + SWEEP;
        }
        let mut wake = next_sweep.min(settle_by);
        if now < sched.end {
            wake = wake.min(sched.end);
            if sched.rate.is_some() {
                r.pace(&mut peers, &mut workload, now);
                wake = wake.min(now + PACE_TICK);
            }
        }
        let wait = wake.saturating_duration_since(Instant::now());
        poller
            .wait(wait.max(Duration::from_millis(1)), &mut ready)
            .map_err(|e| BenchError::io("epoll_wait failed", e))?;
        for &token in &ready {
            let i = usize::try_from(token).unwrap_or(usize::MAX);
            let Some(peer) = peers.get_mut(i) else {
                continue;
            };
            r.receive(peer, i, &mut workload);
            if sched.rate.is_none() {
                r.fill(peer, i, &mut workload);
            }
        }
    }
    // Whatever is still open after its timeout (none, unless the clock
    // jumped) is lost.
    for (i, peer) in peers.iter_mut().enumerate() {
        for s in peer.slots.drain(..) {
            if s.counted {
                r.stats.lost += 1;
            }
            workload.forget(i, s.seq, s.tag);
        }
    }
    workload.settle(&mut r.stats);
    Ok(r.stats)
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

impl Run {
    fn measuring(&self, now: Instant) -> bool {
        now >= self.sched.measure_from && now < self.sched.end
    }

    /// Reads what `peer` has waiting and settles the requests it answers.
    fn receive<W: Workload>(&mut self, peer: &mut Peer, i: usize, workload: &mut W) {
        // Read as many as are outstanding, not until EAGAIN: the poller is
        // level-triggered, so anything left (a push, an early reply) is
        // reported again, and the usual wake-up costs no empty extra read.
        let max = peer
            .slots
            .len()
            .clamp(1, self.batch.capacity().min(self.sched.window + RECV_EXTRA));
        let got = if self.sched.batch {
            match self.batch.recv(peer.fd(), max) {
                Ok(n) => n,
                Err(_) => {
                    self.stats.io_errors += 1;
                    0
                }
            }
        } else {
            let mut n = 0;
            while n < max {
                match peer.sock.recv(self.batch.slot_mut(n)) {
                    Ok(len) => {
                        self.batch.set_len(n, len);
                        n += 1;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        self.stats.io_errors += 1;
                        break;
                    }
                }
            }
            n
        };
        let now = Instant::now();
        let mut retries = Vec::new();
        for k in 0..got {
            match workload.parse(i, self.batch.datagram(k)) {
                Parsed::Push => self.stats.pushes += 1,
                Parsed::Garbage => self.stats.garbage += 1,
                Parsed::Retry { seq } => retries.push(seq),
                Parsed::Reply { seq, body } => {
                    let Some(slot) = peer.take(seq) else {
                        self.stats.late += 1;
                        continue;
                    };
                    let verdict = workload.judge(i, peer.local, slot.tag, body, slot.counted);
                    if !slot.counted {
                        continue;
                    }
                    self.open -= 1;
                    match verdict {
                        Verdict::Ok => {
                            self.stats.ok += 1;
                            let ns = now.saturating_duration_since(slot.sent).as_nanos();
                            self.stats
                                .latency
                                .saturating_record(u64::try_from(ns).unwrap_or(u64::MAX).max(1));
                        }
                        Verdict::Error(code) => *self.stats.errors.entry(code).or_default() += 1,
                        Verdict::Invalid => self.stats.invalid += 1,
                    }
                }
            }
        }
        // The batch's buffers are free again: send the retries.
        for seq in retries {
            let Some(slot) = peer.slots.iter().find(|s| s.seq == seq).copied() else {
                self.stats.late += 1;
                continue;
            };
            let len = workload.retry(i, seq, slot.tag, self.batch.slot_mut(0));
            self.batch.set_len(0, len);
            if len == 0 || peer.sock.send(self.batch.datagram(0)).is_err() {
                self.stats.io_errors += 1;
            } else if slot.counted {
                self.stats.retries += 1;
            }
        }
    }

    /// Records request `seq` of `peer` as sent at `now`.
    fn opened(&mut self, peer: &mut Peer, seq: u32, tag: u64, now: Instant) {
        let counted = self.measuring(now);
        if counted {
            self.open += 1;
            self.stats.sent += 1;
        }
        peer.slots.push(Slot {
            seq,
            sent: now,
            tag,
            counted,
        });
    }

    /// Sends new requests until `peer` has a full window outstanding.
    fn fill<W: Workload>(&mut self, peer: &mut Peer, i: usize, workload: &mut W) {
        let free = self.sched.window.saturating_sub(peer.slots.len());
        if free == 0 || Instant::now() >= self.sched.end {
            return;
        }
        let mut made = std::mem::take(&mut self.made);
        made.clear();
        for k in 0..free {
            let seq = peer.next_seq;
            peer.next_seq = peer.next_seq.wrapping_add(1);
            let (len, tag) = workload.request(i, seq, self.batch.slot_mut(k));
            self.batch.set_len(k, len);
            made.push((seq, tag));
        }
        let sent = if self.sched.batch {
            self.batch.send(peer.fd(), free).unwrap_or(0)
        } else {
            let mut n = 0;
            while n < free && peer.sock.send(self.batch.datagram(n)).is_ok() {
                n += 1;
            }
            n
        };
        let now = Instant::now();
        for (k, &(seq, tag)) in made.iter().enumerate() {
            if k < sent {
                self.opened(peer, seq, tag, now);
            } else {
                // It never left: forget it; the sweep refills the window.
                workload.forget(i, seq, tag);
            }
        }
        if sent < free {
            self.stats.io_errors += 1;
        }
        self.made = made;
    }

    /// Paced: sends the requests that have fallen due since the start,
    /// each to the next peer (round-robin) with room in its window.
    fn pace<W: Workload>(&mut self, peers: &mut [Peer], workload: &mut W, now: Instant) {
        let Some(rate) = self.sched.rate else { return };
        let elapsed = now
            .saturating_duration_since(self.sched.start)
            .as_secs_f64();
        let due = ((elapsed * rate) as u64).saturating_sub(self.issued);
        for _ in 0..due {
            self.issued += 1;
            let mut found = None;
            for _ in 0..peers.len() {
                let i = self.cursor;
                self.cursor = (self.cursor + 1) % peers.len();
                if peers[i].slots.len() < self.sched.window {
                    found = Some(i);
                    break;
                }
            }
            let Some(i) = found else {
                if self.measuring(now) {
                    self.stats.unsent += 1;
                }
                continue;
            };
            let peer = &mut peers[i];
            let seq = peer.next_seq;
            peer.next_seq = peer.next_seq.wrapping_add(1);
            let (len, tag) = workload.request(i, seq, self.batch.slot_mut(0));
            self.batch.set_len(0, len);
            match peer.sock.send(self.batch.datagram(0)) {
                Ok(_) => self.opened(peer, seq, tag, Instant::now()),
                Err(_) => {
                    self.stats.io_errors += 1;
                    workload.forget(i, seq, tag);
                }
            }
        }
    }

    /// Counts requests past the timeout as lost and refills every window.
    fn sweep<W: Workload>(&mut self, peers: &mut [Peer], workload: &mut W, now: Instant) {
        let timeout = self.sched.timeout;
        for (i, peer) in peers.iter_mut().enumerate() {
            let mut k = 0;
            while k < peer.slots.len() {
                let s = peer.slots[k];
                if now.saturating_duration_since(s.sent) < timeout {
                    k += 1;
                    continue;
                }
                peer.slots.swap_remove(k);
                if s.counted {
                    self.stats.lost += 1;
                    self.open -= 1;
                }
                workload.forget(i, s.seq, s.tag);
            }
            if self.sched.rate.is_none() {
                self.fill(peer, i, workload);
            }
        }
    }
}
