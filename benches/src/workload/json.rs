//! The JSON workloads of protocol.md section 2: `keepalive` (registered
//! peers refreshing with REGISTER), `register` (a brand-new token every
//! request: the server's durable path) and `mix` (refresh, paged LIST and
//! CONNECT to other registered peers, by weight). Every reply is decoded
//! with the shared codec and checked against the request it answers.

use std::net::SocketAddr;
use std::sync::Arc;

use peerd_shared::wire::{self, Packet};
use peerd_shared::{PeerId, Seq, Token};

use crate::engine::{Parsed, Verdict, Workload};

/// A registered peer, as the setup phase left it.
#[derive(Debug, Clone, Copy)]
pub struct Identity {
    pub token: Token,
    pub id: PeerId,
}

/// Relative weights of the three requests of `mix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MixWeights {
    pub register: u32,
    pub list: u32,
    pub connect: u32,
}

impl MixWeights {
    /// Parses `REGISTER:LIST:CONNECT`, e.g. `2:1:1`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let [r, l, c] = parts.as_slice() else {
            return Err(format!("expected REGISTER:LIST:CONNECT weights, got {s:?}"));
        };
        let num = |x: &str| {
            x.trim()
                .parse::<u32>()
                .map_err(|e| format!("bad weight {x:?}: {e}"))
        };
        let w = Self {
            register: num(r)?,
            list: num(l)?,
            connect: num(c)?,
        };
        if w.register + w.list + w.connect == 0 {
            return Err("at least one weight must be positive".into());
        }
        Ok(w)
    }
}

/// Which JSON load to generate.
#[derive(Debug, Clone)]
pub enum JsonLoad {
    Keepalive,
    Register,
    Mix {
        weights: MixWeights,
        /// Every registered id, to pick CONNECT targets from.
        all: Arc<Vec<PeerId>>,
    },
}

const OP_REGISTER: u64 = 0;
const OP_LIST: u64 = 1;
const OP_CONNECT: u64 = 2;

/// The JSON workload of one thread.
pub struct JsonWorkload {
    load: JsonLoad,
    /// Per peer of this thread (empty for `register`).
    peers: Vec<Identity>,
    /// Per peer: the `after` of its next LIST (0 starts a new walk).
    cursors: Vec<u64>,
    rng: fastrand::Rng,
    out: Vec<u8>,
}

impl JsonWorkload {
    /// `peers` are this thread's registered identities, in peer order
    /// (unused by `register`, which needs `count` only).
    pub fn new(load: JsonLoad, peers: Vec<Identity>, count: usize) -> Self {
        Self {
            load,
            cursors: vec![0; count],
            peers,
            rng: fastrand::Rng::new(),
            out: Vec::with_capacity(256),
        }
    }

    fn op(&mut self) -> u64 {
        let JsonLoad::Mix { weights, .. } = &self.load else {
            return OP_REGISTER;
        };
        let total = weights.register + weights.list + weights.connect;
        let r = self.rng.u32(..total);
        if r < weights.register {
            OP_REGISTER
        } else if r < weights.register + weights.list {
            OP_LIST
        } else {
            OP_CONNECT
        }
    }

    fn target(&mut self, me: PeerId) -> Option<PeerId> {
        let JsonLoad::Mix { all, .. } = &self.load else {
            return None;
        };
        if all.len() < 2 {
            return None;
        }
        let mut t = all[self.rng.usize(..all.len())];
        if t == me {
            t = all[(all.iter().position(|&x| x == me).unwrap_or(0) + 1) % all.len()];
        }
        Some(t)
    }
}

/// Encodes `packet` through the reusable `out` into `buf`; 0 if it cannot.
fn write(out: &mut Vec<u8>, packet: &Packet, buf: &mut [u8]) -> usize {
    match wire::encode_into(packet, out) {
        Ok(()) if out.len() <= buf.len() => {
            buf[..out.len()].copy_from_slice(out);
            out.len()
        }
        _ => 0,
    }
}

impl Workload for JsonWorkload {
    type Body = Packet;

    fn request(&mut self, peer: usize, seq: u32, buf: &mut [u8]) -> (usize, u64) {
        let seq = Seq(seq);
        if matches!(self.load, JsonLoad::Register) {
            let token = Token(self.rng.u128(..).to_le_bytes());
            return (
                write(&mut self.out, &Packet::Register { seq, token }, buf),
                OP_REGISTER,
            );
        }
        let Some(me) = self.peers.get(peer).copied() else {
            return (0, OP_REGISTER);
        };
        let mut op = self.op();
        let target = if op == OP_CONNECT {
            self.target(me.id)
        } else {
            None
        };
        if op == OP_CONNECT && target.is_none() {
            op = OP_LIST;
        }
        let (packet, tag) = match (op, target) {
            (OP_CONNECT, Some(target)) => (
                Packet::Connect {
                    seq,
                    id: me.id,
                    token: me.token,
                    target,
                },
                OP_CONNECT | (target.get() << 2),
            ),
            (OP_LIST, _) => {
                let after = self.cursors.get(peer).copied().unwrap_or(0);
                (
                    Packet::List {
                        seq,
                        id: me.id,
                        token: me.token,
                        after: (after > 0).then_some(after),
                    },
                    OP_LIST | (after << 2),
                )
            }
            _ => (
                Packet::Register {
                    seq,
                    token: me.token,
                },
                OP_REGISTER,
            ),
        };
        (write(&mut self.out, &packet, buf), tag)
    }

    fn parse(&mut self, _peer: usize, datagram: &[u8]) -> Parsed<Packet> {
        // The server's own encoding decodes on a fast path to the same
        // packet (see `fast`); anything else goes through `wire::decode`.
        match wire::fast::decode_reply(datagram).map_or_else(|| wire::decode(datagram), Ok) {
            Ok(Packet::Intro { .. }) => Parsed::Push,
            Ok(packet) => match packet.seq() {
                Some(seq) => Parsed::Reply {
                    seq: seq.0,
                    body: packet,
                },
                None => Parsed::Garbage,
            },
            Err(_) => Parsed::Garbage,
        }
    }

    fn judge(&mut self, peer: usize, local: SocketAddr, tag: u64, body: Packet) -> Verdict {
        let op = tag & 3;
        let arg = tag >> 2;
        let me = self.peers.get(peer).map(|p| p.id);
        match body {
            Packet::Error { code, .. } => Verdict::Error(code.as_str()),
            Packet::RegisterAck { id, addr, .. } if op == OP_REGISTER => {
                let id_ok = me.is_none_or(|m| m == id);
                if id_ok && addr == local {
                    Verdict::Ok
                } else {
                    Verdict::Invalid
                }
            }
            Packet::ListAck { peers, more, .. } if op == OP_LIST => {
                let sorted = peers.windows(2).all(|w| w[0].id < w[1].id);
                let fresh = peers.iter().all(|e| e.id.get() > arg && Some(e.id) != me);
                if let Some(c) = self.cursors.get_mut(peer) {
                    *c = match (more, peers.last()) {
                        (true, Some(last)) => last.id.get(),
                        _ => 0,
                    };
                }
                if sorted && fresh && (!more || !peers.is_empty()) {
                    Verdict::Ok
                } else {
                    Verdict::Invalid
                }
            }
            Packet::ConnectAck { target, .. } if op == OP_CONNECT && target.get() == arg => {
                Verdict::Ok
            }
            _ => Verdict::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerd_shared::wire::PeerEntry;

    fn id(n: u64) -> PeerId {
        PeerId::new(n).expect("valid id")
    }

    #[test]
    fn weights_parse() {
        assert_eq!(
            MixWeights::parse("2:1:1"),
            Ok(MixWeights {
                register: 2,
                list: 1,
                connect: 1
            })
        );
        assert!(MixWeights::parse("0:0:0").is_err());
        assert!(MixWeights::parse("1:2").is_err());
        assert!(MixWeights::parse("a:1:1").is_err());
    }

    fn mix(all: Vec<PeerId>, me: PeerId) -> JsonWorkload {
        let load = JsonLoad::Mix {
            weights: MixWeights {
                register: 0,
                list: 1,
                connect: 0,
            },
            all: Arc::new(all),
        };
        let token = Token([7; 16]);
        JsonWorkload::new(load, vec![Identity { token, id: me }], 1)
    }

    #[test]
    fn list_pages_follow_more_and_reject_the_asker() {
        let local: SocketAddr = "127.0.0.1:4000".parse().expect("literal");
        let mut w = mix(vec![id(1), id(2), id(3)], id(1));
        let mut buf = [0u8; 512];
        let (len, tag) = w.request(0, 9, &mut buf);
        let Ok(Packet::List { after, .. }) = wire::decode(&buf[..len]) else {
            panic!("a LIST was built");
        };
        assert_eq!(after, None);
        let page = |ids: &[u64], more| Packet::ListAck {
            seq: Seq(9),
            peers: ids
                .iter()
                .map(|&n| PeerEntry {
                    id: id(n),
                    addr: local,
                })
                .collect(),
            more,
        };
        assert!(matches!(
            w.judge(0, local, tag, page(&[2], true)),
            Verdict::Ok
        ));
        let (len, tag) = w.request(0, 10, &mut buf);
        let Ok(Packet::List { after, .. }) = wire::decode(&buf[..len]) else {
            panic!("a LIST was built");
        };
        assert_eq!(after, Some(2), "the next page starts after the last id");
        // The asker itself, or an id not above `after`, is wrong.
        assert!(matches!(
            w.judge(0, local, tag, page(&[1], false)),
            Verdict::Invalid
        ));
        let (_, tag) = w.request(0, 11, &mut buf);
        assert!(matches!(
            w.judge(0, local, tag, page(&[3, 2], false)),
            Verdict::Invalid
        ));
    }

    #[test]
    fn register_ack_must_carry_the_own_address_and_id() {
        let local: SocketAddr = "127.0.0.1:4000".parse().expect("literal");
        let other: SocketAddr = "127.0.0.1:4001".parse().expect("literal");
        let token = Token([1; 16]);
        let mut w = JsonWorkload::new(JsonLoad::Keepalive, vec![Identity { token, id: id(5) }], 1);
        let ack = |n, addr| Packet::RegisterAck {
            seq: Seq(1),
            id: id(n),
            addr,
            keepalive: 25,
        };
        assert!(matches!(w.judge(0, local, 0, ack(5, local)), Verdict::Ok));
        assert!(matches!(
            w.judge(0, local, 0, ack(6, local)),
            Verdict::Invalid
        ));
        assert!(matches!(
            w.judge(0, local, 0, ack(5, other)),
            Verdict::Invalid
        ));
    }
}
