//! What every actor of the daemon shares: the one UDP socket (sent through
//! directly, never through a sink that could wedge), the identity, the
//! server address, the own id once known, and the clocks.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use peerd_shared::wire::{self, EncodeError, Packet};
use peerd_shared::{PeerId, Seq, Token};
use tokio::net::UdpSocket;

/// State shared by all actors of one daemon.
pub struct Shared {
    /// The daemon's only UDP socket (receiving side).
    pub udp: Arc<UdpSocket>,
    /// The same socket (a duplicated descriptor), non-blocking, for sends:
    /// a plain `sendto` that never depends on tokio's readiness cache, so
    /// the very first datagram goes out at once.
    sender: std::net::UdpSocket,
    /// The secret identity; never logged.
    pub token: Token,
    /// The rendezvous server's address.
    pub server: SocketAddr,
    /// The server as configured, for `status`.
    pub server_text: String,
    /// The socket's bound address.
    pub local_addr: SocketAddr,
    /// When the daemon started.
    pub started: Instant,
    /// Own id; 0 until the first REGISTER_ACK (or the stored one).
    id: AtomicU64,
    /// Next request `seq` (a new request always gets a new one).
    seq: AtomicU32,
    /// Whether the registry link is registered right now.
    registered: AtomicBool,
}

impl Shared {
    /// Wraps the bound socket and identity.
    pub fn new(
        udp: Arc<UdpSocket>,
        sender: std::net::UdpSocket,
        token: Token,
        server: SocketAddr,
        server_text: String,
        id: Option<PeerId>,
    ) -> std::io::Result<Self> {
        let local_addr = udp.local_addr()?;
        let mut seed = [0u8; 4];
        // A random first seq keeps a restarted daemon from colliding with the
        // server's replay cache of its previous run.
        let _ = getrandom::fill(&mut seed);
        Ok(Self {
            udp,
            sender,
            token,
            server,
            server_text,
            local_addr,
            started: Instant::now(),
            id: AtomicU64::new(id.map_or(0, PeerId::get)),
            seq: AtomicU32::new(u32::from_le_bytes(seed)),
            registered: AtomicBool::new(false),
        })
    }

    /// Own id, once known.
    pub fn id(&self) -> Option<PeerId> {
        PeerId::new(self.id.load(Ordering::Relaxed))
    }

    /// Records own id (from REGISTER_ACK).
    pub fn set_id(&self, id: PeerId) {
        self.id.store(id.get(), Ordering::Relaxed);
    }

    /// Whether the daemon is registered with its server now.
    pub fn registered(&self) -> bool {
        self.registered.load(Ordering::Relaxed)
    }

    /// Set by the registry link when its state changes.
    pub fn set_registered(&self, yes: bool) {
        self.registered.store(yes, Ordering::Relaxed);
    }

    /// A fresh request sequence number.
    pub fn next_seq(&self) -> Seq {
        Seq(self.seq.fetch_add(1, Ordering::Relaxed))
    }

    /// Encodes and sends one datagram without waiting. A full socket buffer
    /// drops it (the senders retransmit); encoding errors are returned.
    pub fn send(&self, packet: &Packet, to: SocketAddr) -> Result<(), EncodeError> {
        let bytes = wire::encode(packet)?;
        self.send_bytes(&bytes, to);
        Ok(())
    }

    /// Sends already encoded bytes; see [`Shared::send`].
    pub fn send_bytes(&self, bytes: &[u8], to: SocketAddr) {
        // An IPv6 socket (e.g. `--listen [::]:0`) reaches IPv4 peers through
        // IPv4-mapped addresses.
        let to = match (self.local_addr, to) {
            (SocketAddr::V6(_), SocketAddr::V4(v4)) => {
                SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port())
            }
            _ => to,
        };
        if let Err(e) = self.sender.send_to(bytes, to) {
            tracing::debug!(%to, error = %e, "datagram not sent");
        }
    }
}

/// The wall clock in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A Unix-millisecond time as `YYYY-MM-DD HH:MM:SS UTC`, for notes to people.
pub fn format_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(format_ms(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_ms(1_700_000_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(format_ms(951_782_400_000), "2000-02-29 00:00:00 UTC");
    }
}
