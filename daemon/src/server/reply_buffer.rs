//! The reply buffer: the datagrams the protocol core wants sent, and the
//! encoders that write the server's replies into them without allocating.
//!
//! [`ReplyBuffer`] is one byte arena plus a list of (destination, range); the UDP
//! loop clears it, hands it to the core, then sends every entry. The replies
//! are written by hand because their shape is fixed and simple (numbers and
//! `ip:port` strings need no escaping); the unit tests (`reply_buffer_tests.rs`) check every one
//! decodes with `peerd_shared::wire::decode` to the expected [`Packet`].
//!
//! [`Packet`]: peerd_shared::wire::Packet

use std::io::Write;
use std::net::SocketAddr;
use std::ops::Range;

use peerd_shared::wire::{self, canonical, ErrorCode, MAX_DATAGRAM};
use peerd_shared::{PeerId, Seq, Token};

use super::addr_text::AddrText;
use crate::metrics::{Counter, Counters};

/// Datagrams to send, in order, plus new ids to persist.
#[derive(Debug, Default)]
pub struct ReplyBuffer {
    buf: Vec<u8>,
    items: Vec<(SocketAddr, Range<usize>)>,
    /// New (id, token) pairs the store must make durable before their
    /// REGISTER_ACK goes out ([`super::registry::Registry::on_durable`]).
    pub persist: Vec<(PeerId, Token)>,
    /// What this thread has done so far, for the metrics ([`crate::metrics`]);
    /// kept across [`ReplyBuffer::clear`].
    pub tally: Counters,
}

/// Bytes a LIST_ACK ends with at most: `],"more":false}`.
const LIST_TAIL: usize = 15;

impl ReplyBuffer {
    /// An empty buffer with room for a few datagrams.
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(4 * MAX_DATAGRAM),
            items: Vec::with_capacity(8),
            persist: Vec::new(),
            tally: Counters::default(),
        }
    }

    /// Forgets everything (keeps the memory).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.items.clear();
        self.persist.clear();
    }

    /// The datagrams, in the order they were queued.
    pub fn datagrams(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> + '_ {
        self.items.iter().map(|(to, r)| (*to, &self.buf[r.clone()]))
    }

    /// How many datagrams are queued.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Queues raw bytes (a STUN answer, an ERROR) for `to`.
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

    fn start(&mut self, kind: &str) -> usize {
        let start = self.buf.len();
        self.text("{\"v\":1,\"type\":\"");
        self.text(kind);
        self.text("\"");
        start
    }

    fn text(&mut self, s: &str) {
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// Writes `n` in decimal (no `fmt` machinery on the hot path).
    fn num(&mut self, n: u64) {
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }

    /// Writes `"ip:port"` in canonical form, with its quotes: the cached
    /// `text` if there is one, else `addr` formatted.
    fn addr(&mut self, addr: SocketAddr, text: &AddrText) {
        self.buf.push(b'"');
        match text.get() {
            Some(t) => self.buf.extend_from_slice(t),
            None => match AddrText::new(addr).get() {
                Some(t) => self.buf.extend_from_slice(t),
                None => self
                    .buf
                    .write_fmt(format_args!("{}", canonical(addr)))
                    .expect("writing to a Vec cannot fail"),
            },
        }
        self.buf.push(b'"');
    }

    /// `REGISTER_ACK {seq, id, addr, keepalive}`; `text` is `addr`'s
    /// cached text ([`AddrText::NONE`] to format it here).
    pub fn register_ack(
        &mut self,
        to: SocketAddr,
        seq: Seq,
        id: PeerId,
        text: &AddrText,
        keepalive: u64,
    ) {
        let start = self.start("REGISTER_ACK");
        self.text(",\"seq\":");
        self.num(u64::from(seq.0));
        self.text(",\"id\":");
        self.num(id.get());
        self.text(",\"addr\":");
        self.addr(to, text);
        self.text(",\"keepalive\":");
        self.num(keepalive);
        self.text("}");
        self.close(to, start);
    }

    /// `CONNECT_ACK {seq, target, addr}` (`text`: `addr`'s cached text).
    pub fn connect_ack(
        &mut self,
        to: SocketAddr,
        seq: Seq,
        target: PeerId,
        addr: SocketAddr,
        text: &AddrText,
    ) {
        let start = self.start("CONNECT_ACK");
        self.text(",\"seq\":");
        self.num(u64::from(seq.0));
        self.text(",\"target\":");
        self.num(target.get());
        self.text(",\"addr\":");
        self.addr(addr, text);
        self.text("}");
        self.close(to, start);
    }

    /// `INTRO {from, addr}` (`text`: `addr`'s cached text).
    pub fn intro(&mut self, to: SocketAddr, from: PeerId, addr: SocketAddr, text: &AddrText) {
        let start = self.start("INTRO");
        self.text(",\"from\":");
        self.num(from.get());
        self.text(",\"addr\":");
        self.addr(addr, text);
        self.text("}");
        self.close(to, start);
    }

    /// `UNREGISTER_ACK {seq}` or `RELAY_ACK {seq}`.
    pub fn ack(&mut self, to: SocketAddr, kind: &'static str, seq: Seq) {
        let start = self.start(kind);
        self.text(",\"seq\":");
        self.num(u64::from(seq.0));
        self.text("}");
        self.close(to, start);
    }

    /// `RELAYED {from, data}` with `data` copied unchanged; refuses (returns
    /// false, queues nothing) when the datagram would exceed `MAX_DATAGRAM`.
    pub fn relayed(&mut self, to: SocketAddr, from: PeerId, data: &str) -> bool {
        let start = self.start("RELAYED");
        self.text(",\"from\":");
        self.num(from.get());
        self.text(",\"data\":");
        self.text(data);
        self.text("}");
        let len = self.buf.len() - start;
        if len > MAX_DATAGRAM {
            self.buf.truncate(start);
            return false;
        }
        self.close(to, start);
        self.tally.add(Counter::RelayedDatagrams, 1);
        self.tally.add(Counter::RelayedBytes, len as u64);
        true
    }

    /// `ERROR {seq, code, message}`, never larger than `cause_len + 200`
    /// bytes (protocol.md 2.3): the message is left out if it would be.
    pub fn error(
        &mut self,
        to: SocketAddr,
        seq: Seq,
        code: ErrorCode,
        message: &str,
        cause_len: usize,
    ) {
        let mut bytes = wire::encode_error(seq, code, message);
        if bytes.len() > cause_len + 200 {
            bytes = wire::encode_error(seq, code, "");
        }
        self.raw(to, &bytes);
        self.tally.add(Counter::error(code), 1);
    }

    /// Starts a LIST_ACK; add peers with [`ListWriter::push`].
    pub fn list_ack(&mut self, to: SocketAddr, seq: Seq) -> ListWriter<'_> {
        let start = self.start("LIST_ACK");
        self.text(",\"seq\":");
        self.num(u64::from(seq.0));
        self.text(",\"peers\":[");
        ListWriter {
            out: self,
            to,
            start,
            count: 0,
        }
    }
}

/// A LIST_ACK being filled: as many peers as fit one datagram.
pub struct ListWriter<'a> {
    out: &'a mut ReplyBuffer,
    to: SocketAddr,
    start: usize,
    count: usize,
}

impl ListWriter<'_> {
    /// Adds a peer (`text`: `addr`'s cached text); false (and nothing
    /// added) when it does not fit.
    pub fn push(&mut self, id: PeerId, addr: SocketAddr, text: &AddrText) -> bool {
        let mark = self.out.buf.len();
        self.out.text(if self.count == 0 {
            "{\"id\":"
        } else {
            ",{\"id\":"
        });
        self.out.num(id.get());
        self.out.text(",\"addr\":");
        self.out.addr(addr, text);
        self.out.text("}");
        if self.out.buf.len() - self.start + LIST_TAIL > MAX_DATAGRAM {
            self.out.buf.truncate(mark);
            return false;
        }
        self.count += 1;
        true
    }

    /// Closes the array with `more` and queues the datagram; returns how
    /// many peers it holds.
    pub fn finish(self, more: bool) -> usize {
        self.out.text(if more {
            "],\"more\":true}"
        } else {
            "],\"more\":false}"
        });
        self.out.close(self.to, self.start);
        self.count
    }
}

#[cfg(test)]
#[path = "reply_buffer_tests.rs"]
mod tests;
