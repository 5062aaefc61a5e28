//! Raw UDP to `peerd server`: the server speaks protocol v1 JSON (and
//! STUN) over UDP, so its tests, and the lab's probes, send datagrams from
//! plain sockets. A request is retransmitted like a protocol client does
//! (250 ms, doubling, 5 tries) until the reply carrying its `seq` arrives.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use peerd_shared::wire::{self, Packet};
use peerd_shared::Seq;

use super::poll::{Timeout, DEADLINE};

/// First retransmission timeout of a request (protocol.md 2).
const RETRY: Duration = Duration::from_millis(250);
/// Tries per request, the first included.
const TRIES: u32 = 5;

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

    /// The next datagram within `wait`, if any (from anyone).
    pub fn recv_within(&self, wait: Duration) -> Option<Vec<u8>> {
        recv_matching(&self.socket, wait, |buf, _| Some(buf.to_vec())).ok()
    }

    /// The next datagram, decoded; fails the test after [`DEADLINE`].
    pub fn recv(&self) -> Packet {
        let bytes = self
            .recv_within(DEADLINE)
            .expect("a datagram from the server");
        decode(&bytes)
    }

    /// Asserts nothing arrives within `wait`.
    pub fn expect_silence(&self, wait: Duration) {
        if let Some(b) = self.recv_within(wait) {
            panic!("expected silence, got {:?}", String::from_utf8_lossy(&b));
        }
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

    /// Sends `text` and returns the reply, retransmitting like a protocol
    /// client.
    pub fn call(&self, text: &str) -> Packet {
        self.send(text.as_bytes());
        self.await_reply(text)
    }

    /// Waits for the reply to `text`, already sent once, retransmitting it
    /// when none comes.
    ///
    /// Like a protocol client, it takes only a reply carrying the request's
    /// `seq` (when the request has a readable one) and skips anything else
    /// (a late duplicate answer, an INTRO), so stray datagrams never pass
    /// for the answer.
    pub fn await_reply(&self, text: &str) -> Packet {
        let want = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("seq").and_then(serde_json::Value::as_u64))
            .and_then(|n| u32::try_from(n).ok())
            .map(Seq);
        self.retransmit(text.as_bytes(), want, true)
            .unwrap_or_else(|t| panic!("no reply to {text}: {t}"))
    }

    /// Sends `packet` (a request carrying a `seq`) and returns the server's
    /// reply with that `seq` (an ERROR included).
    pub fn request(&self, packet: &Packet) -> Result<Packet, Timeout> {
        let seq = packet.seq().expect("a request carries a seq");
        let bytes = wire::encode(packet).expect("encode a request");
        self.send(&bytes);
        self.retransmit(&bytes, Some(seq), false)
    }

    /// Waits for the reply with `seq` (any reply when `None`) to `bytes`,
    /// sent once already, sending them again when none comes in time.
    /// Datagrams from others than the server are skipped; with `strict`,
    /// an undecodable one fails the test.
    fn retransmit(&self, bytes: &[u8], seq: Option<Seq>, strict: bool) -> Result<Packet, Timeout> {
        let mut wait = RETRY;
        for attempt in 0..TRIES {
            if attempt > 0 {
                self.send(bytes);
            }
            let reply = recv_matching(&self.socket, wait, |buf, from| {
                if from != self.server && !strict {
                    return None;
                }
                let reply = if strict {
                    decode(buf)
                } else {
                    wire::decode(buf).ok()?
                };
                (seq.is_none() || reply.seq() == seq).then_some(reply)
            });
            if let Ok(reply) = reply {
                return Ok(reply);
            }
            wait *= 2;
        }
        Err(Timeout(format!(
            "a reply from {} after {TRIES} tries",
            self.server
        )))
    }
}

/// Decodes a datagram the server sent, failing the test if it cannot.
pub fn decode(bytes: &[u8]) -> Packet {
    wire::decode(bytes).unwrap_or_else(|e| {
        panic!(
            "undecodable reply {:?}: {e}",
            String::from_utf8_lossy(bytes)
        )
    })
}
