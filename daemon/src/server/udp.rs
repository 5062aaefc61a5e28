//! The server's event loop: one UDP socket on a single-threaded tokio
//! runtime, feeding datagrams to the [`Registry`] and sending what it
//! answers, plus the reports of the thread behind it (the database
//! writer, or a cluster node's engine: [`Backend`]), a once-a-second sweep
//! and the shutdown signal. No locks, no per-request tasks: the core is a plain
//! value owned by this loop.

use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use std::os::fd::{AsRawFd, RawFd};

use socket2::Socket;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::backend::Backend;
use super::error::ServerError;
use super::mmsg::{self, Gso, RecvBatch};
use super::registry::Registry;
use super::reply_buffer::ReplyBuffer;
use super::reuseport;
use super::stun_threads::Handed;
use crate::metrics::{Counter, Gauge, Publisher};

/// `recvmmsg` calls per wake-up before the loop looks at its other inputs.
const RECV_ROUNDS: usize = 4;
/// Kernel socket buffer asked for, bytes (the kernel may give less).
const SOCKET_BUFFER: usize = 4 << 20;
/// How often expired peers and stale limiter/replay state are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Binds the server's port (dual-stack for `[::]`): the registry thread's
/// socket, plus `threads - 1` sockets for STUN threads in one reuseport
/// group ([`super::reuseport`]). If the group cannot be made (no
/// `SO_REUSEPORT` or BPF steering here), one socket serves everything.
pub fn bind(
    addr: SocketAddr,
    threads: usize,
) -> Result<(UdpSocket, Vec<std::net::UdpSocket>), ServerError> {
    let err = |source| ServerError::Bind { addr, source };
    let configure = |socket: &Socket| {
        if addr.is_ipv6() && addr.ip().is_unspecified() {
            // Serve IPv4 too where the system allows; not fatal if it does not.
            let _ = socket.set_only_v6(false);
        }
        let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
        Ok(())
    };
    let mut sockets = match reuseport::bind_group(addr, threads, configure) {
        Ok(group) => group,
        Err(e) if threads > 1 => {
            warn!("{threads} threads on one port: {e}; serving with one thread");
            reuseport::bind_group(addr, 1, configure).map_err(err)?
        }
        Err(e) => return Err(err(e)),
    };
    let stun: Vec<std::net::UdpSocket> = sockets.drain(1..).map(Into::into).collect();
    let main = sockets
        .pop()
        .ok_or_else(|| err(ErrorKind::NotFound.into()))?;
    main.set_nonblocking(true).map_err(err)?;
    let main = UdpSocket::from_std(main.into()).map_err(err)?;
    Ok((main, stun))
}

/// Serves until `shutdown` completes. With `metrics`, the loop's counts
/// are published before each batch of answers is sent (a client that has
/// its answer finds its request counted) and at the end of each wake-up,
/// the gauges once a second.
pub async fn serve(
    socket: UdpSocket,
    mut registry: Registry,
    mut backend: Backend,
    mut handed: mpsc::Receiver<Handed>,
    metrics: Option<Publisher>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let v6 = socket.local_addr().map_err(ServerError::Socket)?.is_ipv6();
    let fd = socket.as_raw_fd();
    let mut batch = RecvBatch::new();
    let mut out = ReplyBuffer::new();
    let mut gso = Gso::new();
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(report) = backend.next() => {
                out.clear();
                backend.apply(report, &mut registry, &mut out);
                backend.hand_over(&mut registry, &mut out);
                send_all(&socket, fd, v6, &mut out, &mut gso, metrics.as_ref()).await;
            }
            _ = sweep.tick() => {
                let now = Instant::now();
                registry.sweep(now);
                out.clear();
                registry.cluster_tick(now, &mut out);
                backend.hand_over(&mut registry, &mut out);
                if let Some(m) = &metrics {
                    m.set(Gauge::OnlinePeers, registry.online_count() as u64);
                    m.set(Gauge::KnownIds, registry.known_ids() as u64);
                    m.beat(now);
                }
            }
            Some((datagram, source)) = handed.recv() => {
                // From a STUN thread: looked like STUN but was not.
                out.clear();
                registry.handle(&datagram, source, Instant::now(), &mut out);
                registry.flush_announcements(&mut out);
                backend.hand_over(&mut registry, &mut out);
                send_all(&socket, fd, v6, &mut out, &mut gso, metrics.as_ref()).await;
            }
            ready = socket.readable() => {
                ready.map_err(ServerError::Socket)?;
                for _ in 0..RECV_ROUNDS {
                    // A short batch emptied the queue: it is reported as
                    // WouldBlock so tokio clears the readiness now, which
                    // spares the empty read that would end the drain.
                    let read = socket.try_io(Interest::READABLE, || match batch.recv(fd) {
                        Ok(n) if n < mmsg::BATCH => Err(ErrorKind::WouldBlock.into()),
                        other => other,
                    });
                    let drained = match read {
                        Ok(_) => false,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => true,
                        Err(e) => {
                            // e.g. ECONNREFUSED from an earlier send's ICMP error.
                            debug!("recv: {e}");
                            continue;
                        }
                    };
                    if batch.is_empty() {
                        break;
                    }
                    // One clock reading and one sendmmsg per batch.
                    let now = Instant::now();
                    out.clear();
                    let mut received = 0;
                    for (datagram, source) in batch.datagrams() {
                        registry.handle(datagram, source, now, &mut out);
                        backend.hand_over(&mut registry, &mut out);
                        received += 1;
                    }
                    registry.flush_announcements(&mut out);
                    backend.hand_over(&mut registry, &mut out);
                    out.tally.add(Counter::DatagramsReceived, received);
                    send_all(&socket, fd, v6, &mut out, &mut gso, metrics.as_ref()).await;
                    if drained {
                        break;
                    }
                }
            }
        }
        if let Some(m) = &metrics {
            m.publish(&out.tally);
        }
    }
    info!("shutting down: {} peers online", registry.online_count());
    backend.close();
    Ok(())
}

/// Publishes the counts (with `metrics`), then sends every queued
/// datagram, `BATCH` entries per `sendmmsg` (datagrams to one peer in a row
/// as one segmented entry while `gso` allows), waiting while the socket's
/// buffer is full. A datagram the kernel refuses is skipped.
async fn send_all(
    socket: &UdpSocket,
    fd: RawFd,
    v6: bool,
    out: &mut ReplyBuffer,
    gso: &mut Gso,
    metrics: Option<&Publisher>,
) {
    out.tally.add(Counter::DatagramsSent, out.len() as u64);
    if let Some(m) = metrics {
        m.publish(&out.tally);
    }
    for (items, n) in mmsg::batches(out, v6, gso.enabled()) {
        let mut at = 0;
        while at < n {
            match socket.try_io(Interest::WRITABLE, || mmsg::send(fd, &items[at..n])) {
                Ok(sent) => at += sent.max(1).min(n - at),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if let Err(e) = socket.writable().await {
                        debug!("send: {e}");
                        return;
                    }
                }
                Err(e) => {
                    debug!("send to {}: {e}", items[at].to);
                    for single in gso.refused(&e, items[at]) {
                        send_one(socket, fd, single).await;
                    }
                    at += 1;
                }
            }
        }
    }
}

/// Sends one datagram, waiting while the socket's buffer is full.
async fn send_one(socket: &UdpSocket, fd: RawFd, item: mmsg::Out<'_>) {
    loop {
        match socket.try_io(Interest::WRITABLE, || mmsg::send(fd, &[item])) {
            Ok(_) => return,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if socket.writable().await.is_err() {
                    return;
                }
            }
            Err(e) => {
                debug!("send to {}: {e}", item.to);
                return;
            }
        }
    }
}
