//! The STUN threads of `peerd server` (`--threads` above 1): each owns one
//! socket of the port's reuseport group ([`super::reuseport`]), which the
//! kernel feeds only with datagrams that start like STUN, and answers them
//! itself: STUN needs no registry state. Each thread has its own rate
//! limiter; since a source always reaches the same socket, its per-source
//! bucket is exact. A datagram that only looked like STUN is handed to the
//! registry's thread (bounded queue; dropped when full), which answers it
//! as any other datagram.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use peerd_shared::proto::codec::canonical;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::args::Limits;
use super::mmsg::{self, Gso, RecvBatch};
use super::reply_buffer::ReplyBuffer;
use super::stun_port as stun;
use crate::metrics::{Board, Counter, Publisher};
use crate::ratelimit::RateLimiter;

/// A datagram for the registry's thread: bytes and source.
pub type Handed = (Vec<u8>, SocketAddr);

/// How long a thread blocks in `recvmmsg` before it looks at the stop flag.
const WAKE_EVERY: Duration = Duration::from_millis(100);
/// How often a thread forgets refilled rate-limit buckets.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The running STUN threads; [`StunThreads::stop`] ends them.
pub struct StunThreads {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl StunThreads {
    /// One thread per socket; with `metrics`, thread `i` publishes its
    /// counts to slot `i + 1` of the board once per batch.
    pub fn start(
        sockets: Vec<UdpSocket>,
        limits: Limits,
        handoff: mpsc::Sender<Handed>,
        metrics: Option<&std::sync::Arc<Board>>,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::with_capacity(sockets.len());
        for (i, socket) in sockets.into_iter().enumerate() {
            socket.set_nonblocking(false)?;
            socket.set_read_timeout(Some(WAKE_EVERY))?;
            let (stop, handoff) = (stop.clone(), handoff.clone());
            let publisher = metrics.map(|b| b.publisher(i + 1));
            threads.push(
                std::thread::Builder::new()
                    .name(format!("stun-{}", i + 1))
                    .spawn(move || serve(&socket, limits, &handoff, publisher, &stop))?,
            );
        }
        Ok(Self { stop, threads })
    }

    /// Asks every thread to stop and waits for them.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            if t.join().is_err() {
                warn!("a STUN thread panicked");
            }
        }
    }
}

fn serve(
    socket: &UdpSocket,
    limits: Limits,
    handoff: &mpsc::Sender<Handed>,
    metrics: Option<Publisher>,
    stop: &AtomicBool,
) {
    let fd = socket.as_raw_fd();
    let v6 = socket.local_addr().is_ok_and(|a| a.is_ipv6());
    let mut limiter = RateLimiter::new(
        limits.rate_per_source,
        limits.burst_per_source,
        limits.global_rate,
    );
    let mut batch = RecvBatch::new();
    let mut out = ReplyBuffer::new();
    let mut gso = Gso::new();
    let epoch = Instant::now();
    let mut swept = epoch;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let now_ms = u64::try_from(now.duration_since(epoch).as_millis()).unwrap_or(u64::MAX);
        if now.duration_since(swept) >= SWEEP_EVERY {
            limiter.sweep(now_ms);
            swept = now;
        }
        match batch.recv_wait(fd) {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => {
                debug!("recv: {e}");
                continue;
            }
        }
        out.clear();
        let mut received = 0;
        for (datagram, from) in batch.datagrams() {
            received += 1;
            let source = canonical(from);
            if datagram.is_empty() {
                continue;
            }
            if !stun::is_stun(datagram) {
                if handoff.try_send((datagram.to_vec(), from)).is_err() {
                    out.tally.add(Counter::HandoffDropped, 1);
                    debug!(%source, "registry thread busy: datagram dropped");
                }
                continue;
            }
            stun::serve(datagram, source, limiter.check(source, now_ms), &mut out);
        }
        out.tally.add(Counter::DatagramsReceived, received);
        out.tally.add(Counter::DatagramsSent, out.len() as u64);
        // Counted before answered: whoever has an answer finds its request
        // in the next scrape.
        if let Some(m) = &metrics {
            m.publish(&out.tally);
        }
        send_all(fd, v6, &out, &mut gso);
    }
}

/// Sends every queued answer, [`mmsg::BATCH`] entries per call (answers
/// to one source in a row as one segmented entry while `gso` allows),
/// waiting while the socket's buffer is full; a datagram the kernel refuses
/// is skipped.
fn send_all(fd: std::os::fd::RawFd, v6: bool, out: &ReplyBuffer, gso: &mut Gso) {
    for (items, n) in mmsg::batches(out, v6, gso.enabled()) {
        let mut at = 0;
        while at < n {
            match mmsg::send_wait(fd, &items[at..n]) {
                Ok(sent) => at += sent.max(1),
                Err(e) => {
                    debug!("send to {}: {e}", items[at].to);
                    for single in gso.refused(&e, items[at]) {
                        if let Err(e) = mmsg::send_wait(fd, &[single]) {
                            debug!("send to {}: {e}", single.to);
                        }
                    }
                    at += 1;
                }
            }
        }
    }
}
