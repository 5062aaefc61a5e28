//! The junk flood of the `junk` mode: HANDSHAKE_INITs no daemon would
//! send, at a fixed rate, from many source addresses (`127.2.x.y`), while
//! the engine's established peers send their keepalives. Two kinds:
//!
//! - `bad-mac1`: random bytes in the shape of a REGISTER INIT (142 bytes)
//!   with a wrong `mac1`: the server drops it after one BLAKE2s;
//! - `mac1`: the same with a correct `mac1` (so made by someone who knows
//!   the server's public key), 32 fresh random bytes where the ephemeral
//!   key goes (any 32 bytes are an X25519 public key to the server) and
//!   random bytes for the encrypted static key and payload: it passes the
//!   `mac1` check and would cost the server a Diffie-Hellman (`es`) before
//!   the decryption fails, unless cookies (under load) or the per-IP limit
//!   stop it first.
//!
//! Every datagram is new (fresh random bytes; `mac1` computed per datagram),
//! sent with `sendmmsg`, up to [`BURST`] per call, rotating over the source
//! sockets. What the server answers (COOKIE_REPLY under load) is read and
//! counted. Only what was sent within the measured interval counts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use peerd_shared::proto::crypto::MAC_LEN;
use peerd_shared::proto::frame::{ty, INIT_OVERHEAD};

use crate::client::ServerKey;
use crate::error::BenchError;
use crate::peers::open_socket;
use crate::sys::{Batch, Poller};

/// Datagrams per `sendmmsg`.
pub const BURST: usize = 64;
/// Bytes of a junk INIT: a REGISTER INIT's (payload of 9 bytes).
pub const JUNK_LEN: usize = INIT_OVERHEAD + 9;
/// How often the flood sends what has fallen due.
const TICK: Duration = Duration::from_millis(1);

/// Which junk to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JunkKind {
    /// A wrong `mac1`.
    BadMac1,
    /// A correct `mac1`, random keys and ciphertext.
    Mac1,
}

impl JunkKind {
    /// `bad-mac1` or `mac1`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "bad-mac1" => Ok(Self::BadMac1),
            "mac1" => Ok(Self::Mac1),
            _ => Err(format!("junk kind is bad-mac1 or mac1, not {s:?}")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::BadMac1 => "bad-mac1",
            Self::Mac1 => "mac1",
        }
    }
}

/// What to flood with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JunkConfig {
    pub kind: JunkKind,
    /// Junk INITs per second.
    pub rate: f64,
    /// Source sockets, each on its own address.
    pub sources: usize,
}

/// What the flood did within the measured interval.
#[derive(Debug, Clone, Copy, Default)]
pub struct JunkStats {
    /// Junk INITs the kernel took.
    pub sent: u64,
    /// Datagrams the server sent back (COOKIE_REPLY).
    pub answers: u64,
    /// Sends that failed or went out short.
    pub io_errors: u64,
}

/// Writes one junk INIT of `kind` into `buf`.
pub fn junk(kind: JunkKind, server: &ServerKey, rng: &mut fastrand::Rng, buf: &mut [u8]) {
    let buf = &mut buf[..JUNK_LEN];
    buf[0] = ty::HANDSHAKE_INIT;
    let m1 = JUNK_LEN - 2 * MAC_LEN;
    let m2 = JUNK_LEN - MAC_LEN;
    rng.fill(&mut buf[1..m2]);
    if kind == JunkKind::Mac1 {
        let mac1 = server.mac1(&buf[..m1]);
        buf[m1..m2].copy_from_slice(&mac1);
    }
    buf[m2..].fill(0);
}

/// The source address of junk socket `i`: `127.2.x.y` (x.y from 0.1), or
/// the IPv6 loopback for an IPv6 server.
fn source(server: SocketAddr, i: usize) -> SocketAddr {
    let ip = match server.ip() {
        IpAddr::V4(_) => {
            let n = u32::try_from(i).unwrap_or(u32::MAX) % 64_000;
            let [_, _, b, c] = (n / 250 * 256 + n % 250 + 1).to_be_bytes();
            IpAddr::V4(Ipv4Addr::new(127, 2, b, c))
        }
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    };
    SocketAddr::new(ip, 0)
}

/// Floods `server` from `cfg.sources` sockets from `start` to `end`,
/// counting from `measure_from`.
pub fn flood(
    server: SocketAddr,
    key: ServerKey,
    cfg: JunkConfig,
    start: Instant,
    measure_from: Instant,
    end: Instant,
) -> Result<JunkStats, BenchError> {
    let socks = (0..cfg.sources.max(1))
        .map(|i| open_socket(source(server, i), server))
        .collect::<Result<Vec<UdpSocket>, _>>()?;
    let mut poller =
        Poller::new(socks.len()).map_err(|e| BenchError::io("cannot create epoll", e))?;
    for (i, s) in socks.iter().enumerate() {
        poller
            .add(s.as_raw_fd(), i as u64)
            .map_err(|e| BenchError::io("cannot watch a junk socket", e))?;
    }
    let mut out = Batch::new(BURST);
    let mut inbox = Batch::new(BURST);
    let mut rng = fastrand::Rng::new();
    let mut stats = JunkStats::default();
    let mut issued = 0u64;
    let mut next = 0;
    let mut ready = Vec::new();
    if start > Instant::now() {
        std::thread::sleep(start - Instant::now());
    }
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let counting = now >= measure_from;
        let elapsed = now.saturating_duration_since(start).as_secs_f64();
        let mut due = ((elapsed * cfg.rate) as u64).saturating_sub(issued);
        while due > 0 {
            let n = usize::try_from(due).unwrap_or(BURST).min(BURST);
            for k in 0..n {
                junk(cfg.kind, &key, &mut rng, out.slot_mut(k));
                out.set_len(k, JUNK_LEN);
            }
            let fd = socks[next].as_raw_fd();
            next = (next + 1) % socks.len();
            let sent = out.send(fd, n).unwrap_or(0);
            issued += n as u64;
            due -= n as u64;
            if counting {
                stats.sent += sent as u64;
                if sent < n {
                    stats.io_errors += 1;
                }
            }
        }
        poller
            .wait(TICK, &mut ready)
            .map_err(|e| BenchError::io("epoll_wait failed", e))?;
        for &token in &ready {
            let Some(sock) = socks.get(usize::try_from(token).unwrap_or(usize::MAX)) else {
                continue;
            };
            loop {
                let got = inbox.recv(sock.as_raw_fd(), BURST).unwrap_or(0);
                if counting {
                    stats.answers += got as u64;
                }
                if got < BURST {
                    break;
                }
            }
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerd_shared::proto::handshake::accept;
    use peerd_shared::proto::{Frame, Identity, SecretKey};

    #[test]
    fn junk_has_the_shape_of_an_init_and_only_mac1_junk_passes_mac1() {
        let server = Identity::new(SecretKey::from_bytes([4; 32]));
        let key = ServerKey::new(server.public);
        let mut rng = fastrand::Rng::with_seed(1);
        let mut buf = [0u8; 200];
        for kind in [JunkKind::BadMac1, JunkKind::Mac1] {
            junk(kind, &key, &mut rng, &mut buf);
            let Ok(Frame::Init(init)) = Frame::parse(&buf[..JUNK_LEN]) else {
                panic!("{kind:?}: not an INIT")
            };
            assert_eq!(
                server.mac1_ok(init.mac1_input, &init.mac1),
                kind == JunkKind::Mac1
            );
            assert_eq!(init.mac2, [0; 16]);
            assert!(accept(&server, &init).is_err(), "junk never decrypts");
        }
        assert_eq!(JunkKind::parse("mac1"), Ok(JunkKind::Mac1));
        assert!(JunkKind::parse("x").is_err());
    }

    #[test]
    fn sources_are_distinct_addresses() {
        let server: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let all: std::collections::HashSet<_> = (0..600).map(|i| source(server, i)).collect();
        assert_eq!(all.len(), 600);
        assert!(all.iter().all(
            |a| matches!(a.ip(), IpAddr::V4(v) if v.octets()[..2] == [127, 2] && v.octets()[3] != 0)
        ));
    }
}
