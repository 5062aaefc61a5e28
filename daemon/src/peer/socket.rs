//! The daemon's one UDP socket, as I/O only: binding it with large
//! buffers, the stream of datagrams it receives, and a plain non-blocking
//! `sendto` for what the registry link sends. What the bytes mean is the
//! core's business ([`super::core::transport`]).

use std::net::SocketAddr;

use super::core::transport::Datagram;

/// Socket buffers asked for (the kernel may cap them at `rmem_max`/`wmem_max`).
const UDP_BUFFER: usize = 4 << 20;
/// Largest datagram read; bigger ones are truncated and fail to decode.
const RECV_BUFFER: usize = 2048;

/// Binds the daemon's UDP socket with large buffers, non-blocking, so
/// bursts of messages and acknowledgements are not dropped by the kernel.
pub fn bind(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Err(e) = socket.set_recv_buffer_size(UDP_BUFFER) {
        tracing::debug!(error = %e, "cannot enlarge the UDP receive buffer");
    }
    if let Err(e) = socket.set_send_buffer_size(UDP_BUFFER) {
        tracing::debug!(error = %e, "cannot enlarge the UDP send buffer");
    }
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// One received datagram.
pub struct Received {
    pub src: SocketAddr,
    pub bytes: Vec<u8>,
}

/// Every datagram `udp` receives, forever. One receive buffer is reused;
/// each datagram is copied out at its own size (a small allocation, where
/// a fresh 2 KiB buffer per datagram showed up in the profile).
pub fn received(udp: tokio::net::UdpSocket) -> impl futures_util::Stream<Item = Received> {
    let buf = vec![0u8; RECV_BUFFER];
    futures_util::stream::unfold((udp, buf), |(udp, mut buf)| async move {
        loop {
            match udp.recv_from(&mut buf).await {
                Ok((n, src)) => {
                    let bytes = buf[..n].to_vec();
                    return Some((Received { src, bytes }, (udp, buf)));
                }
                // ICMP errors surface here on some systems; keep receiving.
                Err(e) => tracing::debug!(error = %e, "udp receive error"),
            }
        }
    })
}

/// The sending side: the same socket (a duplicated descriptor), written
/// with a plain `sendto` that never depends on tokio's readiness cache, so
/// the very first datagram goes out at once.
pub struct Sender(std::net::UdpSocket);

impl Sender {
    /// Sends through a duplicate of `udp`.
    pub fn new(udp: &std::net::UdpSocket) -> std::io::Result<Self> {
        udp.try_clone().map(Self)
    }

    /// Sends without waiting; a full socket buffer drops the datagram (the
    /// senders retransmit).
    pub fn send(&self, d: &Datagram) {
        if let Err(e) = self.0.send_to(&d.bytes, d.to) {
            tracing::debug!(to = %d.to, error = %e, "datagram not sent");
        }
    }
}
