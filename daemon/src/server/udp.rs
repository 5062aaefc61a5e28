//! The server's event loop: one UDP socket on a single-threaded tokio
//! runtime, feeding datagrams to the [`Registry`] and sending what it
//! answers, plus the database writer's reports, a once-a-second sweep and
//! the shutdown signal. No locks, no per-request tasks: the core is a plain
//! value owned by this loop.

use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tracing::{debug, error, info};

use super::error::ServerError;
use super::outbox::Outbox;
use super::registry::Registry;
use super::store::Writer;

/// Datagrams read per wake-up before the loop looks at its other inputs.
const RECV_BATCH: usize = 128;
/// Largest UDP payload; oversized datagrams are read whole to answer `too_large`.
const RECV_BUFFER: usize = 65_536;
/// Kernel socket buffer asked for, bytes (the kernel may give less).
const SOCKET_BUFFER: usize = 4 << 20;
/// How often expired peers and stale limiter/replay state are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Binds the UDP socket (dual-stack for `[::]`).
pub fn bind(addr: SocketAddr) -> Result<UdpSocket, ServerError> {
    let err = |source| ServerError::Bind { addr, source };
    let socket =
        Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP)).map_err(err)?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        // Serve IPv4 too where the system allows; not fatal if it does not.
        let _ = socket.set_only_v6(false);
    }
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    socket.set_nonblocking(true).map_err(err)?;
    socket.bind(&addr.into()).map_err(err)?;
    UdpSocket::from_std(socket.into()).map_err(err)
}

/// Serves until `shutdown` completes.
pub async fn serve(
    socket: UdpSocket,
    mut registry: Registry,
    mut writer: Writer,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let v6 = socket.local_addr().map_err(ServerError::Socket)?.is_ipv6();
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut out = Outbox::new();
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(done) = writer.stored.recv() => {
                out.clear();
                registry.on_durable(&done.ids, done.ok, &mut out);
                send_all(&socket, v6, &out).await;
            }
            _ = sweep.tick() => registry.sweep(Instant::now()),
            ready = socket.readable() => {
                ready.map_err(ServerError::Socket)?;
                let now = Instant::now();
                for _ in 0..RECV_BATCH {
                    let (n, source) = match socket.try_recv_from(&mut buf) {
                        Ok(got) => got,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => {
                            // e.g. ECONNREFUSED from an earlier send's ICMP error.
                            debug!("recv: {e}");
                            continue;
                        }
                    };
                    out.clear();
                    registry.handle(&buf[..n], source, now, &mut out);
                    persist(&mut registry, &writer, &mut out);
                    send_all(&socket, v6, &out).await;
                }
            }
        }
    }
    info!("shutting down: {} peers online", registry.online_count());
    writer.close();
    Ok(())
}

/// Hands new ids to the writer; if it is gone, they fail at once.
fn persist(registry: &mut Registry, writer: &Writer, out: &mut Outbox) {
    if out.persist.is_empty() {
        return;
    }
    let mut failed = Vec::new();
    for &(id, token) in &out.persist {
        if let Err(e) = writer.store(id, token) {
            error!("{e}");
            failed.push(id);
        }
    }
    out.persist.clear();
    if !failed.is_empty() {
        registry.on_durable(&failed, false, out);
    }
}

async fn send_all(socket: &UdpSocket, v6: bool, out: &Outbox) {
    for (to, bytes) in out.datagrams() {
        let dest = match to {
            SocketAddr::V4(v4) if v6 => SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port()),
            other => other,
        };
        let sent = match socket.try_send_to(bytes, dest) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => socket.send_to(bytes, dest).await,
            other => other,
        };
        if let Err(e) = sent {
            debug!("send to {to}: {e}");
        }
    }
}
