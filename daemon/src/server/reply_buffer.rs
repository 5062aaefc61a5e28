//! The reply buffer: the datagrams the protocol core wants sent, in one byte
//! arena plus a list of (destination, range), and the new registrations
//! and handshake timestamps the database must store. The UDP loop clears it,
//! hands it to the core, then sends every entry with `sendmmsg`.
//!
//! Replies to peers are sealed here, straight into the arena, on the peer's
//! session: [`ReplyBuffer::seal`] encodes a payload and encrypts it in one
//! step, so the core never handles plaintext bytes of its own replies.

use std::net::SocketAddr;
use std::ops::Range;

use peerd_shared::proto::frame::MAX_PAYLOAD;
use peerd_shared::proto::session::SealError;
use peerd_shared::proto::{Body, PublicKey, MAX_DATAGRAM};
use peerd_shared::PeerId;

use super::cluster::BusOut;
use super::peers::ServerSession;
use crate::metrics::{Counter, Counters};

/// What the database must store before (new keys) or after (timestamps)
/// the core answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persist {
    /// A new key's id; its REGISTERED waits for the commit.
    New { id: PeerId, key: PublicKey, ts: u64 },
    /// A known key's newer handshake timestamp (replay protection across
    /// restarts); nothing waits for it.
    Timestamp { id: PeerId, ts: u64 },
}

/// Datagrams to send, in order, plus what to persist.
#[derive(Debug, Default)]
pub struct ReplyBuffer {
    buf: Vec<u8>,
    items: Vec<(SocketAddr, Range<usize>)>,
    /// Plaintext of the payload being sealed.
    scratch: Vec<u8>,
    pub persist: Vec<Persist>,
    /// New keys whose ids the cluster database must give (cluster nodes).
    pub claims: Vec<PublicKey>,
    /// Messages for the other nodes of the cluster.
    pub bus: Vec<BusOut>,
    /// What this thread has done so far, for the metrics ([`crate::metrics`]);
    /// kept across [`ReplyBuffer::clear`].
    pub tally: Counters,
}

impl ReplyBuffer {
    /// An empty buffer with room for a few datagrams.
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(4 * MAX_DATAGRAM),
            items: Vec::with_capacity(8),
            scratch: Vec::with_capacity(MAX_DATAGRAM),
            persist: Vec::new(),
            claims: Vec::new(),
            bus: Vec::new(),
            tally: Counters::default(),
        }
    }

    /// Forgets everything (keeps the memory).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.items.clear();
        self.persist.clear();
        self.claims.clear();
        self.bus.clear();
    }

    /// The datagrams, in the order they were queued.
    pub fn datagrams(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> + '_ {
        self.items.iter().map(|(to, r)| (*to, &self.buf[r.clone()]))
    }

    /// The datagrams as runs for segmented sends (UDP GSO): consecutive
    /// datagrams for one destination, all of one length but the last, which
    /// may be shorter, as one span of the arena with that length; at most
    /// `max_count` datagrams and `max_bytes` bytes a run. Each run is
    /// `(to, bytes, segment)`; with `max_count` 1, one run per datagram.
    pub fn runs(
        &self,
        max_count: usize,
        max_bytes: usize,
    ) -> impl Iterator<Item = (SocketAddr, &[u8], usize)> + '_ {
        let mut i = 0;
        std::iter::from_fn(move || {
            let (to, first) = self.items.get(i)?;
            let segment = first.len();
            let mut end = first.end;
            i += 1;
            let mut count = 1;
            while segment > 0 && count < max_count {
                let Some((next_to, r)) = self.items.get(i) else {
                    break;
                };
                if next_to != to
                    || r.start != end
                    || r.is_empty()
                    || r.len() > segment
                    || r.end - first.start > max_bytes
                {
                    break;
                }
                end = r.end;
                i += 1;
                count += 1;
                if r.len() < segment {
                    break;
                }
            }
            Some((*to, &self.buf[first.start..end], segment))
        })
    }

    /// How many datagrams are queued.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Queues raw bytes (a handshake answer, a cookie reply, STUN) for `to`.
    pub fn raw(&mut self, to: SocketAddr, bytes: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(bytes);
        self.close(to, start);
    }

    /// Writes into the arena through `f` and queues the result for `to`.
    /// STUN answers are produced this way, straight into the arena.
    pub fn with_space(
        &mut self,
        to: SocketAddr,
        n: usize,
        f: impl FnOnce(&mut [u8]) -> Option<usize>,
    ) {
        let start = self.buf.len();
        self.buf.resize(start + n, 0);
        match f(&mut self.buf[start..]) {
            Some(len) if len <= n => {
                self.buf.truncate(start + len);
                self.close(to, start);
            }
            _ => self.buf.truncate(start),
        }
    }

    fn close(&mut self, to: SocketAddr, start: usize) {
        self.items.push((to, start..self.buf.len()));
    }

    /// Seals `body` on `session` and queues it for `to`.
    pub fn seal(
        &mut self,
        to: SocketAddr,
        session: &mut ServerSession,
        body: &Body<'_>,
    ) -> Result<(), SealError> {
        match body {
            Body::Error { code, .. } => self.tally.add(Counter::error(*code), 1),
            Body::Relayed { data, .. } => {
                self.tally.add(Counter::RelayedDatagrams, 1);
                self.tally.add(Counter::RelayedBytes, data.len() as u64);
            }
            _ => {}
        }
        self.scratch.clear();
        body.encode(&mut self.scratch);
        self.seal_scratch(to, session)
    }

    /// Seals a payload built by `write` (which appends to the scratch
    /// buffer; at most [`MAX_PAYLOAD`] bytes) and queues it for `to`.
    pub fn seal_with(
        &mut self,
        to: SocketAddr,
        session: &mut ServerSession,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> Result<(), SealError> {
        self.scratch.clear();
        write(&mut self.scratch);
        self.seal_scratch(to, session)
    }

    fn seal_scratch(
        &mut self,
        to: SocketAddr,
        session: &mut ServerSession,
    ) -> Result<(), SealError> {
        if self.scratch.len() > MAX_PAYLOAD {
            return Err(SealError::TooLarge);
        }
        let start = self.buf.len();
        session.seal(&self.scratch, &mut self.buf)?;
        self.close(to, start);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerd_shared::proto::frame::Frame;
    use peerd_shared::proto::SessionKeys;
    use peerd_shared::Seq;

    fn pair() -> (ServerSession, ServerSession) {
        let k = |a, b| SessionKeys {
            send: [a; 32],
            recv: [b; 32],
        };
        (
            ServerSession::new(k(1, 2), 5, 6),
            ServerSession::new(k(2, 1), 6, 5),
        )
    }

    #[test]
    fn sealed_replies_open_on_the_other_side() {
        let (mut server, mut peer) = pair();
        let mut out = ReplyBuffer::new();
        let to: SocketAddr = "127.0.0.1:9".parse().unwrap();
        out.seal(to, &mut server, &Body::RelayAck { seq: Seq(4) })
            .unwrap();
        out.raw(to, b"x");
        assert_eq!(out.len(), 2);
        let (dest, bytes) = out.datagrams().next().unwrap();
        assert_eq!(dest, to);
        let Ok(Frame::Transport(t)) = Frame::parse(bytes) else {
            panic!("not transport")
        };
        let mut buf = Vec::new();
        let plain = peer.open(&t, &mut buf).unwrap();
        assert_eq!(Body::decode(plain).unwrap(), Body::RelayAck { seq: Seq(4) });
        let too_big = vec![0u8; MAX_PAYLOAD + 1];
        assert_eq!(
            out.seal_with(to, &mut server, |b| b.extend_from_slice(&too_big)),
            Err(SealError::TooLarge)
        );
        assert_eq!(out.len(), 2, "nothing queued for a refused seal");
    }

    #[test]
    fn runs_join_equal_datagrams_for_one_destination_only() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let mut out = ReplyBuffer::new();
        for (to, bytes) in [
            (a, &b"aaaa"[..]),
            (a, b"bbbb"),
            (a, b"cc"), // shorter: ends the run
            (a, b"dddd"),
            (b, b"eeee"),   // another destination
            (b, b"ffffff"), // longer: a run of its own
            (b, b""),
            (b, b""),
        ] {
            out.raw(to, bytes);
        }
        let runs: Vec<_> = out.runs(64, 65_000).collect();
        assert_eq!(
            runs,
            vec![
                (a, &b"aaaabbbbcc"[..], 4),
                (a, b"dddd", 4),
                (b, b"eeee", 4),
                (b, b"ffffff", 6),
                (b, b"", 0),
                (b, b"", 0),
            ]
        );
        // Limits: count and bytes per run.
        assert_eq!(out.runs(2, 65_000).next(), Some((a, &b"aaaabbbb"[..], 4)));
        assert_eq!(out.runs(64, 7).next(), Some((a, &b"aaaa"[..], 4)));
        // One per datagram, in order, when runs are of one.
        let singles: Vec<_> = out.runs(1, 65_000).map(|(to, b, _)| (to, b)).collect();
        let datagrams: Vec<_> = out.datagrams().collect();
        assert_eq!(singles, datagrams);
    }
}
