//! The load generator's fast path in front of `wire::decode` for the
//! replies it reads most (REGISTER_ACK, LIST_ACK, CONNECT_ACK, INTRO), in
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

use super::scan::Scan;
use crate::ids::MAX_SAFE_INTEGER;
use crate::wire::{Packet, PeerEntry, MAX_DATAGRAM};

/// The packet, if `datagram` is one of the four replies in the server's
/// own form; `None` means "ask `wire::decode`".
pub fn decode_reply(datagram: &[u8]) -> Option<Packet> {
    if datagram.len() > MAX_DATAGRAM {
        return None;
    }
    let mut s = Scan(datagram.strip_prefix(b"{\"v\":1,\"type\":\"")?);
    if s.lit(b"LIST_ACK\",\"seq\":").is_some() {
        return list_ack(s);
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

/// The rest of a LIST_ACK, after `"seq":`.
fn list_ack(mut s: Scan<'_>) -> Option<Packet> {
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
    Some(Packet::ListAck { seq, peers, more })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{PeerId, Seq};
    use crate::wire;
    use crate::wire::PeerEntry;
    use proptest::prelude::*;
    use std::net::SocketAddr;

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
            let fast = decode_reply(&bytes)
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
            assert!(decode_reply(s.as_bytes()).is_none(), "{s}");
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
            if let Some(fast) = decode_reply(s.as_bytes()) {
                let slow = wire::decode(s.as_bytes());
                prop_assert!(slow.as_ref().is_ok_and(|p| same(p, &fast)), "{s}: {fast:?} vs {slow:?}");
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            if let Some(fast) = decode_reply(&bytes) {
                prop_assert!(wire::decode(&bytes).is_ok_and(|p| same(&p, &fast)));
            }
        }
    }
}
