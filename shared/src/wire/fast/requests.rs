//! The server's fast path in front of `wire::decode` for the hot
//! requests (REGISTER, LIST, CONNECT) in exactly the bytes `wire::encode`
//! produces for them: keys in declaration order after `"v":1` and `"type"`,
//! no whitespace, integers in plain decimal, the token in lower-case hex.
//!
//! [`decode_request`] either returns the very [`Packet`] `wire::decode` would
//! return for the datagram, or `None` (anything else, valid or not), and
//! the caller falls back to the staged decoder. So every error, and every
//! request written differently, is still judged by `wire::decode` in
//! protocol.md's order; the fast path only skips serde's general machinery
//! for datagrams that are valid by construction. A property test below
//! checks the "same packet" claim against `wire::decode`.

use super::scan::Scan;
use crate::ids::MAX_SAFE_INTEGER;
use crate::wire::Packet;

/// The packet, if `datagram` is a REGISTER, LIST or CONNECT in canonical
/// form; `None` means "ask `wire::decode`".
pub fn decode_request(datagram: &[u8]) -> Option<Packet> {
    let mut s = Scan(datagram.strip_prefix(b"{\"v\":1,\"type\":\"")?);
    if s.lit(b"REGISTER\",\"seq\":").is_some() {
        let seq = s.seq()?;
        s.lit(b",\"token\":")?;
        let token = s.token()?;
        s.end()?;
        return Some(Packet::Register { seq, token });
    }
    if s.lit(b"LIST\",\"seq\":").is_some() {
        let seq = s.seq()?;
        s.lit(b",\"id\":")?;
        let id = s.id()?;
        s.lit(b",\"token\":")?;
        let token = s.token()?;
        let after = if s.lit(b",\"after\":").is_some() {
            Some(s.uint(MAX_SAFE_INTEGER)?)
        } else {
            None
        };
        s.end()?;
        return Some(Packet::List {
            seq,
            id,
            token,
            after,
        });
    }
    s.lit(b"CONNECT\",\"seq\":")?;
    let seq = s.seq()?;
    s.lit(b",\"id\":")?;
    let id = s.id()?;
    s.lit(b",\"token\":")?;
    let token = s.token()?;
    s.lit(b",\"target\":")?;
    let target = s.id()?;
    s.end()?;
    Some(Packet::Connect {
        seq,
        id,
        token,
        target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{PeerId, Seq, Token};
    use crate::wire;
    use proptest::prelude::*;

    fn same(a: &Packet, b: &Packet) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn canonical_requests_take_the_fast_path() {
        let token = Token([0xab; 16]);
        let id = PeerId::new(7).expect("valid");
        for p in [
            Packet::Register {
                seq: Seq(u32::MAX),
                token,
            },
            Packet::List {
                seq: Seq(0),
                id,
                token,
                after: None,
            },
            Packet::List {
                seq: Seq(3),
                id,
                token,
                after: Some(MAX_SAFE_INTEGER),
            },
            Packet::Connect {
                seq: Seq(9),
                id,
                token,
                target: PeerId::new(MAX_SAFE_INTEGER).expect("valid"),
            },
        ] {
            let bytes = wire::encode(&p).expect("encodes");
            let fast = decode_request(&bytes).expect("canonical bytes take the fast path");
            assert!(same(&fast, &p), "{fast:?} != {p:?}");
        }
    }

    #[test]
    fn anything_else_falls_back() {
        let t = "ab".repeat(16);
        for s in [
            format!(r#"{{"v":1,"type":"REGISTER","seq":01,"token":"{t}"}}"#),
            format!(r#"{{"v":1,"type":"REGISTER","seq":1.0,"token":"{t}"}}"#),
            format!(r#"{{"v":1,"type":"REGISTER","seq":4294967296,"token":"{t}"}}"#),
            format!(
                r#"{{"v":1,"type":"REGISTER","seq":1,"token":"{}"}}"#,
                "AB".repeat(16)
            ),
            format!(r#"{{"v":1,"type":"REGISTER","seq":1,"token":"{t}"}} "#),
            format!(r#"{{"v":1,"type":"REGISTER","seq":1,"token":"{t}","x":1}}"#),
            format!(r#"{{"v":1,"type":"LIST","seq":1,"id":0,"token":"{t}"}}"#),
            format!(r#"{{"v":1,"type":"LIST","seq":1,"id":1,"token":"{t}","after":null}}"#),
            format!(r#"{{"v":1,"type":"LIST","seq":1,"id":9007199254740992,"token":"{t}"}}"#),
            format!(r#"{{"v":1,"type":"CONNECT","seq":1,"id":1,"token":"{t}","target":1e3}}"#),
            format!(r#"{{"v":2,"type":"REGISTER","seq":1,"token":"{t}"}}"#),
            format!(r#"{{ "v":1,"type":"REGISTER","seq":1,"token":"{t}"}}"#),
        ] {
            assert!(decode_request(s.as_bytes()).is_none(), "{s}");
        }
    }

    proptest! {
        /// Whatever the fast path accepts, `wire::decode` decodes to the
        /// same packet (so no error can be hidden by the fast path).
        #[test]
        fn fast_path_agrees_with_wire_decode(
            kind in 0..3usize,
            seq in prop::sample::select(vec!["0", "1", "01", "4294967295", "4294967296", "-1", "1.5", "99999999999999999"]),
            id in prop::sample::select(vec!["0", "1", "9007199254740991", "9007199254740992", "1e2", "18446744073709551616"]),
            token in "[0-9a-fA-F]{31,33}",
            after in prop::option::of(prop::sample::select(vec!["0", "5", "null", "-3", "9007199254740992"])),
            tail in prop::sample::select(vec!["}", "} ", ",\"x\":1}", "}}", ""]),
        ) {
            let head = ["REGISTER", "LIST", "CONNECT"][kind];
            let mut s = format!(r#"{{"v":1,"type":"{head}","seq":{seq}"#);
            if kind > 0 {
                s += &format!(r#","id":{id}"#);
            }
            s += &format!(r#","token":"{token}""#);
            if kind == 1 {
                if let Some(a) = after {
                    s += &format!(r#","after":{a}"#);
                }
            }
            if kind == 2 {
                s += &format!(r#","target":{id}"#);
            }
            s += tail;
            if let Some(fast) = decode_request(s.as_bytes()) {
                let slow = wire::decode(s.as_bytes());
                prop_assert!(slow.as_ref().is_ok_and(|p| same(p, &fast)), "{s}: {fast:?} vs {slow:?}");
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            if let Some(fast) = decode_request(&bytes) {
                prop_assert!(wire::decode(&bytes).is_ok_and(|p| same(&p, &fast)));
            }
        }
    }
}
