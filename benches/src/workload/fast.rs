//! A fast path in front of `wire::decode` for the server's replies the
//! generator reads most (REGISTER_ACK, LIST_ACK, CONNECT_ACK, INTRO), in
//! exactly the bytes `peerd server` writes: keys in order, no whitespace,
//! integers in plain decimal, IPv4 `a.b.c.d:port` addresses.
//!
//! Why: in `mix`, `wire::decode` of LIST_ACK pages (30 entries, each a
//! serde struct and a `SocketAddr::from_str`) cost the generator ~25,000
//! instructions per request, five times the server's: the generator, not
//! the server, was the bottleneck on a 2-core machine. [`decode`] returns
//! exactly the [`Packet`] `wire::decode` would, or `None` (then the caller
//! uses `wire::decode`), so every reply is still checked in full; the tests
//! compare both decoders.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use peerd_shared::ids::MAX_SAFE_INTEGER;
use peerd_shared::wire::{Packet, PeerEntry, MAX_DATAGRAM};
use peerd_shared::{PeerId, Seq};

struct Scan<'a>(&'a [u8]);

impl Scan<'_> {
    fn lit(&mut self, s: &[u8]) -> Option<()> {
        self.0 = self.0.strip_prefix(s)?;
        Some(())
    }

    /// A JSON integer: plain decimal, no fraction or exponent after it.
    fn uint(&mut self, max: u64) -> Option<u64> {
        let n = self.digits(max)?;
        match self.0.first() {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(n),
        }
    }

    /// Decimal digits, no leading zero, at most 16 digits and `max`.
    fn digits(&mut self, max: u64) -> Option<u64> {
        let digits = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 16 || (digits > 1 && self.0[0] == b'0') {
            return None;
        }
        let (num, rest) = self.0.split_at(digits);
        self.0 = rest;
        let n = num.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        (n <= max).then_some(n)
    }

    fn seq(&mut self) -> Option<Seq> {
        self.uint(u64::from(u32::MAX))
            .and_then(|n| u32::try_from(n).ok())
            .map(Seq)
    }

    fn id(&mut self) -> Option<PeerId> {
        self.uint(MAX_SAFE_INTEGER).and_then(PeerId::new)
    }

    /// `"a.b.c.d:port"` with its quotes.
    fn addr(&mut self) -> Option<SocketAddr> {
        self.lit(b"\"")?;
        let mut octets = [0u8; 4];
        for (i, o) in octets.iter_mut().enumerate() {
            if i > 0 {
                self.lit(b".")?;
            }
            *o = u8::try_from(self.digits(255)?).ok()?;
        }
        self.lit(b":")?;
        let port = u16::try_from(self.digits(u64::from(u16::MAX))?).ok()?;
        self.lit(b"\"")?;
        Some(SocketAddrV4::new(Ipv4Addr::from(octets), port).into())
    }

    fn end(&self) -> Option<()> {
        (self.0 == b"}").then_some(())
    }
}

/// The packet, if `datagram` is one of the four replies in the server's
/// own form; `None` means "ask `wire::decode`".
pub fn decode(datagram: &[u8]) -> Option<Packet> {
    if datagram.len() > MAX_DATAGRAM {
        return None;
    }
    let mut s = Scan(datagram.strip_prefix(b"{\"v\":1,\"type\":\"")?);
    if s.lit(b"LIST_ACK\",\"seq\":").is_some() {
        let seq = s.seq()?;
        s.lit(b",\"peers\":[")?;
        let mut peers = Vec::with_capacity(32);
        if s.lit(b"]").is_none() {
            loop {
                s.lit(b"{\"id\":")?;
                let id = s.id()?;
                s.lit(b",\"addr\":")?;
                let addr = s.addr()?;
                s.lit(b"}")?;
                peers.push(PeerEntry { id, addr });
                if s.lit(b"]").is_some() {
                    break;
                }
                s.lit(b",")?;
            }
        }
        s.lit(b",\"more\":")?;
        let more = if s.lit(b"true").is_some() {
            true
        } else {
            s.lit(b"false")?;
            false
        };
        s.end()?;
        return Some(Packet::ListAck { seq, peers, more });
    }
    if s.lit(b"REGISTER_ACK\",\"seq\":").is_some() {
        let seq = s.seq()?;
        s.lit(b",\"id\":")?;
        let id = s.id()?;
        s.lit(b",\"addr\":")?;
        let addr = s.addr()?;
        s.lit(b",\"keepalive\":")?;
        let keepalive = s.uint(MAX_SAFE_INTEGER)?;
        s.end()?;
        return Some(Packet::RegisterAck {
            seq,
            id,
            addr,
            keepalive,
        });
    }
    if s.lit(b"CONNECT_ACK\",\"seq\":").is_some() {
        let seq = s.seq()?;
        s.lit(b",\"target\":")?;
        let target = s.id()?;
        s.lit(b",\"addr\":")?;
        let addr = s.addr()?;
        s.end()?;
        return Some(Packet::ConnectAck { seq, target, addr });
    }
    s.lit(b"INTRO\",\"from\":")?;
    let from = s.id()?;
    s.lit(b",\"addr\":")?;
    let addr = s.addr()?;
    s.end()?;
    Some(Packet::Intro { from, addr })
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerd_shared::wire;
    use proptest::prelude::*;

    fn same(a: &Packet, b: &Packet) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    fn id(n: u64) -> PeerId {
        PeerId::new(n).expect("valid id")
    }

    #[test]
    fn the_servers_replies_take_the_fast_path() {
        let a: SocketAddr = "127.1.2.3:65535".parse().expect("addr");
        let peers = (1..=25)
            .map(|i| PeerEntry {
                id: id(i * 1000),
                addr: SocketAddr::from(([10, 0, 0, i as u8], 10_000 + i as u16)),
            })
            .collect();
        for p in [
            Packet::ListAck {
                seq: Seq(7),
                peers,
                more: true,
            },
            Packet::ListAck {
                seq: Seq(0),
                peers: vec![],
                more: false,
            },
            Packet::RegisterAck {
                seq: Seq(u32::MAX),
                id: id(MAX_SAFE_INTEGER),
                addr: a,
                keepalive: 25,
            },
            Packet::ConnectAck {
                seq: Seq(1),
                target: id(2),
                addr: "0.0.0.0:0".parse().expect("addr"),
            },
            Packet::Intro {
                from: id(3),
                addr: a,
            },
        ] {
            let bytes = wire::encode(&p).expect("encodes");
            let fast = decode(&bytes)
                .unwrap_or_else(|| panic!("{}: no fast path", String::from_utf8_lossy(&bytes)));
            assert!(same(&fast, &p), "{fast:?} != {p:?}");
        }
    }

    #[test]
    fn anything_else_falls_back() {
        for s in [
            r#"{"v":1,"type":"INTRO","from":1,"addr":"[::1]:9"}"#,
            r#"{"v":1,"type":"INTRO","from":1,"addr":"01.2.3.4:9"}"#,
            r#"{"v":1,"type":"INTRO","from":1,"addr":"256.2.3.4:9"}"#,
            r#"{"v":1,"type":"INTRO","from":1,"addr":"1.2.3.4:65536"}"#,
            r#"{"v":1,"type":"INTRO","from":0,"addr":"1.2.3.4:9"}"#,
            r#"{"v":1,"type":"LIST_ACK","seq":1,"peers":[],"more":1}"#,
            r#"{"v":1,"type":"LIST_ACK","seq":1,"peers":[,],"more":true}"#,
            r#"{"v":1,"type":"LIST_ACK","seq":1,"peers":[{"id":1,"addr":"1.2.3.4:5"},],"more":true}"#,
            r#"{"v":1,"type":"ERROR","seq":1,"code":"internal","message":""}"#,
        ] {
            assert!(decode(s.as_bytes()).is_none(), "{s}");
        }
    }

    proptest! {
        /// Whatever the fast path accepts, `wire::decode` decodes the same.
        #[test]
        fn agrees_with_wire_decode(
            kind in 0..4usize,
            num in prop::sample::select(vec!["0", "1", "07", "255", "256", "65535", "65536", "4294967296", "9007199254740992", "1e1"]),
            octet in prop::sample::select(vec!["0", "1", "255", "256", "00", "-1"]),
            entries in 0..3usize,
            tail in prop::sample::select(vec!["}", "} ", ",\"x\":1}", ""]),
            more in prop::sample::select(vec!["true", "false", "null"]),
        ) {
            let addr = format!(r#""{octet}.2.3.{octet}:{num}""#);
            let s = match kind {
                0 => {
                    let list: Vec<String> = (0..entries)
                        .map(|_| format!(r#"{{"id":{num},"addr":{addr}}}"#))
                        .collect();
                    format!(r#"{{"v":1,"type":"LIST_ACK","seq":{num},"peers":[{}],"more":{more}{tail}"#, list.join(","))
                }
                1 => format!(r#"{{"v":1,"type":"REGISTER_ACK","seq":{num},"id":{num},"addr":{addr},"keepalive":{num}{tail}"#),
                2 => format!(r#"{{"v":1,"type":"CONNECT_ACK","seq":{num},"target":{num},"addr":{addr}{tail}"#),
                _ => format!(r#"{{"v":1,"type":"INTRO","from":{num},"addr":{addr}{tail}"#),
            };
            if let Some(fast) = decode(s.as_bytes()) {
                let slow = wire::decode(s.as_bytes());
                prop_assert!(slow.as_ref().is_ok_and(|p| same(p, &fast)), "{s}: {fast:?} vs {slow:?}");
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            if let Some(fast) = decode(&bytes) {
                prop_assert!(wire::decode(&bytes).is_ok_and(|p| same(&p, &fast)));
            }
        }
    }
}
