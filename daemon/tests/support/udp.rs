//! Raw UDP to `peerd server`: a plain socket that sends any bytes and
//! reads whatever comes back, for STUN, protocol v1 JSON, junk, replays and
//! forgeries. The protocol v2 client ([`super::peers::Peer`]) is built on
//! it; the lab's probes use [`recv_matching`].

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use super::poll::{Timeout, DEADLINE};

/// Receives on `sock` until `pick` accepts a datagram (returns its value)
/// or `limit` passes.
pub fn recv_matching<T>(
    sock: &UdpSocket,
    limit: Duration,
    mut pick: impl FnMut(&[u8], SocketAddr) -> Option<T>,
) -> Result<T, Timeout> {
    let end = Instant::now() + limit;
    let mut buf = vec![0u8; 65_536];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Timeout(format!("a matching datagram (after {limit:?})")));
        }
        sock.set_read_timeout(Some(left))
            .expect("set a socket read timeout");
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                if let Some(v) = pick(&buf[..n], from) {
                    return Ok(v);
                }
            }
            // A timeout, or a signal (a read timeout makes recv return
            // EINTR even with SA_RESTART): read again until the deadline.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(e) => panic!("recv_from: {e}"),
        }
    }
}

/// One UDP socket talking to a server.
pub struct Client {
    pub socket: UdpSocket,
    pub server: SocketAddr,
}

impl Client {
    /// A new socket on loopback, of the server's address family.
    pub fn new(server: SocketAddr) -> Self {
        let local: SocketAddr = if server.is_ipv6() {
            "[::1]:0"
        } else {
            "127.0.0.1:0"
        }
        .parse()
        .expect("literal address");
        let socket = UdpSocket::bind(local).expect("bind client socket");
        Self { socket, server }
    }

    /// A socket bound to `local` (e.g. `127.0.0.2:0`: another source IP
    /// on loopback).
    pub fn bind(local: SocketAddr, server: SocketAddr) -> Self {
        let socket = UdpSocket::bind(local).unwrap_or_else(|e| panic!("cannot bind {local}: {e}"));
        Self { socket, server }
    }

    /// A client on an existing socket (e.g. one opened in a namespace).
    pub fn on(socket: UdpSocket, server: SocketAddr) -> Self {
        Self { socket, server }
    }

    /// This socket's address as the server sees it.
    pub fn addr(&self) -> SocketAddr {
        self.socket.local_addr().expect("local addr")
    }

    /// Sends raw bytes to the server.
    pub fn send(&self, bytes: &[u8]) {
        self.socket.send_to(bytes, self.server).expect("send");
    }

    /// The next datagram from the server within `wait`, if any; datagrams
    /// from anyone else are skipped.
    pub fn recv_within(&self, wait: Duration) -> Option<Vec<u8>> {
        recv_matching(&self.socket, wait, |buf, from| {
            (from == self.server).then(|| buf.to_vec())
        })
        .ok()
    }

    /// The next datagram from the server; fails the test after
    /// [`DEADLINE`].
    pub fn recv(&self) -> Vec<u8> {
        self.recv_within(DEADLINE)
            .unwrap_or_else(|| panic!("no datagram from {} in {DEADLINE:?}", self.server))
    }

    /// Asserts nothing arrives within `wait`.
    pub fn expect_silence(&self, wait: Duration) {
        if let Some(b) = self.recv_within(wait) {
            panic!("expected silence, got {} bytes: {b:02x?}", b.len());
        }
    }

    /// Sends `bytes` and asserts nothing answers within `wait`.
    pub fn send_unanswered(&self, bytes: &[u8], wait: Duration) {
        self.send(bytes);
        self.expect_silence(wait);
    }

    /// Every datagram of a burst of answers: the first may take up to
    /// [`DEADLINE`] (a loaded server, a database write on the way), the
    /// burst ends once `quiet` passes without another.
    pub fn recv_burst(&self, quiet: Duration) -> Vec<Vec<u8>> {
        let mut got: Vec<Vec<u8>> = self.recv_within(DEADLINE).into_iter().collect();
        while let Some(bytes) = self.recv_within(quiet) {
            got.push(bytes);
        }
        got
    }

    /// Discards every datagram already queued on this socket.
    pub fn drain(&self) -> usize {
        let mut n = 0;
        while self.recv_within(Duration::from_millis(5)).is_some() {
            n += 1;
        }
        n
    }
}

/// Whether this machine has an IPv6 loopback; if not, says on stderr that
/// `test` is skipped and why.
pub fn ipv6_loopback_or_skip(test: &str) -> bool {
    match UdpSocket::bind("[::1]:0") {
        Ok(_) => true,
        Err(e) => {
            use std::io::Write;
            // Past the test harness's output capture, so the skip shows.
            let _ = writeln!(
                std::io::stderr(),
                "skipping {test}: no IPv6 loopback on this machine (bind [::1]:0: {e})"
            );
            false
        }
    }
}
