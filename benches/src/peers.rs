//! Simulated peers: each one is its own non-blocking UDP socket, connected
//! to the server so the kernel filters out strangers and `send`/`recv`
//! need no address, plus the bookkeeping of its outstanding requests.
//!
//! [`SourceAddrs`] hands out distinct source addresses spread over
//! `127.1.0.0/16` for the scale run, where a million peers would exhaust the
//! ports of a single loopback address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use socket2::{Domain, Protocol, Socket, Type};

use crate::error::BenchError;

/// One outstanding request of a peer.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// The `seq` (or, for STUN, the counter inside the transaction id).
    pub seq: u32,
    /// When it was sent, for latency and the loss timeout.
    pub sent: Instant,
    /// Whatever the workload wants to remember to judge the reply.
    pub tag: u64,
    /// Sent within the measured interval: its outcome is counted.
    pub counted: bool,
}

/// One simulated peer.
pub struct Peer {
    pub sock: UdpSocket,
    /// The socket's own address: what the server must report back.
    pub local: SocketAddr,
    /// Outstanding requests; at most the window.
    pub slots: Vec<Slot>,
    /// Next request number (wraps).
    pub next_seq: u32,
}

impl Peer {
    /// Binds a socket to `bind` (port 0 for any), connects it to `server`
    /// and makes it non-blocking.
    pub fn open(bind: SocketAddr, server: SocketAddr, window: usize) -> Result<Self, BenchError> {
        let sock = open_socket(bind, server)?;
        let local = sock
            .local_addr()
            .map_err(|e| BenchError::io("cannot read a peer socket's address", e))?;
        Ok(Self {
            sock,
            local,
            slots: Vec::with_capacity(window),
            next_seq: fastrand::u32(..),
        })
    }

    /// The raw descriptor, for epoll and the batched calls.
    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// Takes the slot whose `seq` matches, if it is outstanding.
    pub fn take(&mut self, seq: u32) -> Option<Slot> {
        let i = self.slots.iter().position(|s| s.seq == seq)?;
        Some(self.slots.swap_remove(i))
    }
}

/// A connected, non-blocking UDP socket bound to `bind`.
pub fn open_socket(bind: SocketAddr, server: SocketAddr) -> Result<UdpSocket, BenchError> {
    let sock = Socket::new(Domain::for_address(bind), Type::DGRAM, Some(Protocol::UDP))
        .map_err(|e| BenchError::io("cannot create a UDP socket (raise `ulimit -n`?)", e))?;
    sock.bind(&bind.into())
        .map_err(|e| BenchError::io(format!("cannot bind a peer socket to {bind}"), e))?;
    sock.connect(&server.into())
        .map_err(|e| BenchError::io(format!("cannot connect a peer socket to {server}"), e))?;
    sock.set_nonblocking(true)
        .map_err(|e| BenchError::io("cannot make a peer socket non-blocking", e))?;
    Ok(sock.into())
}

/// The address a plain peer binds to: the loopback of the server's family.
pub fn any_loopback(server: SocketAddr) -> SocketAddr {
    match server.ip() {
        IpAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
        IpAddr::V6(_) => SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), 0),
    }
}

/// Distinct source addresses `127.1.x.y:port` for many peers: ports
/// [`SourceAddrs::FIRST_PORT`].. on one address, then the next address.
pub struct SourceAddrs {
    host: u32,
    port: u16,
}

impl SourceAddrs {
    /// First port used on each address (below the usual ephemeral range).
    pub const FIRST_PORT: u16 = 10_000;
    /// Last port used on each address.
    pub const LAST_PORT: u16 = 30_000;

    /// Starts at `127.1.0.1:10000`.
    pub fn new() -> Self {
        Self {
            host: 1,
            port: Self::FIRST_PORT,
        }
    }

    /// Opens a socket on the next free address; addresses in use are skipped.
    pub fn open_next(&mut self, server: SocketAddr) -> Result<UdpSocket, BenchError> {
        let mut last = None;
        for _ in 0..1000 {
            let addr = self.advance()?;
            match open_socket(addr, server) {
                Ok(sock) => return Ok(sock),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| BenchError::Setup("no source address could be bound".into())))
    }

    fn advance(&mut self) -> Result<SocketAddr, BenchError> {
        if self.port > Self::LAST_PORT {
            self.port = Self::FIRST_PORT;
            self.host += 1;
            // Skip x.y.z.0 and x.y.z.255.
            while self.host & 0xff == 0 || self.host & 0xff == 255 {
                self.host += 1;
            }
        }
        if self.host >= 0xfffe {
            return Err(BenchError::Setup(
                "ran out of source addresses in 127.1.0.0/16".into(),
            ));
        }
        let [_, _, b, c] = self.host.to_be_bytes();
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 1, b, c)), self.port);
        self.port += 1;
        Ok(addr)
    }
}

impl Default for SourceAddrs {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_addresses_are_distinct_and_skip_network_and_broadcast() {
        // Start just below the first x.y.z.255 so the walk crosses it.
        let mut a = SourceAddrs {
            host: 250,
            port: SourceAddrs::FIRST_PORT,
        };
        let per_host = usize::from(SourceAddrs::LAST_PORT - SourceAddrs::FIRST_PORT) + 1;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..per_host * 10 {
            let addr = a.advance().expect("plenty of addresses");
            let IpAddr::V4(ip) = addr.ip() else {
                panic!("IPv4 only");
            };
            let [x, y, _, last] = ip.octets();
            assert_eq!((x, y), (127, 1));
            assert!(last != 0 && last != 255, "{ip}");
            assert!(seen.insert(addr), "{addr} handed out twice");
        }
    }
}
