//! The workloads on registered peers' sessions (protocol v2, section 5.2):
//! `keepalive` (KEEPALIVE on each peer's session) and `mix` (KEEPALIVE,
//! paged LIST and CONNECT to other registered peers, by weight). Every
//! request is a TRANSPORT frame sealed on the peer's session; every reply
//! is authenticated, decrypted and checked against the request it answers.
//! INTROs caused by other peers' CONNECTs are counted and ignored.

use std::net::SocketAddr;
use std::sync::Arc;

use peerd_shared::proto::{Body, PublicKey};
use peerd_shared::{PeerId, Seq};

use crate::client::{self, Opened, Registered, Reply, ServerSession};
use crate::engine::{Parsed, Verdict, Workload};

/// Relative weights of the three requests of `mix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MixWeights {
    pub keepalive: u32,
    pub list: u32,
    pub connect: u32,
}

impl MixWeights {
    /// Parses `KEEPALIVE:LIST:CONNECT`, e.g. `2:1:1`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let [k, l, c] = parts.as_slice() else {
            return Err(format!(
                "expected KEEPALIVE:LIST:CONNECT weights, got {s:?}"
            ));
        };
        let num = |x: &str| {
            x.trim()
                .parse::<u32>()
                .map_err(|e| format!("bad weight {x:?}: {e}"))
        };
        let w = Self {
            keepalive: num(k)?,
            list: num(l)?,
            connect: num(c)?,
        };
        if w.keepalive.saturating_add(w.list).saturating_add(w.connect) == 0 {
            return Err("at least one weight must be positive".into());
        }
        Ok(w)
    }
}

/// A registered peer as other peers' CONNECTs must see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub id: PeerId,
    pub key: PublicKey,
    pub addr: SocketAddr,
}

/// Which session load to generate.
#[derive(Debug, Clone)]
pub enum SessionLoad {
    Keepalive,
    Mix {
        weights: MixWeights,
        /// Every registered peer, to pick CONNECT targets from.
        all: Arc<Vec<Member>>,
    },
}

const OP_KEEPALIVE: u64 = 0;
const OP_LIST: u64 = 1;
const OP_CONNECT: u64 = 2;

/// One peer of this thread: its registration and its LIST cursor.
struct Mine {
    id: PeerId,
    session: ServerSession,
    keepalive: u16,
    /// The `after` of its next LIST (0 starts a new walk).
    cursor: u64,
}

/// The session workload of one thread.
pub struct SessionWorkload {
    load: SessionLoad,
    peers: Vec<Mine>,
    rng: fastrand::Rng,
    plain: Vec<u8>,
    frame: Vec<u8>,
    scratch: Vec<u8>,
}

impl SessionWorkload {
    /// `peers` are this thread's registrations, in peer order.
    pub fn new(load: SessionLoad, peers: Vec<Registered>) -> Self {
        Self {
            load,
            peers: peers
                .into_iter()
                .map(|r| Mine {
                    id: r.id,
                    session: r.session,
                    keepalive: r.keepalive,
                    cursor: 0,
                })
                .collect(),
            rng: fastrand::Rng::new(),
            plain: Vec::with_capacity(64),
            frame: Vec::with_capacity(128),
            scratch: Vec::with_capacity(peerd_shared::proto::MAX_DATAGRAM),
        }
    }

    fn op(&mut self) -> u64 {
        let SessionLoad::Mix { weights, .. } = &self.load else {
            return OP_KEEPALIVE;
        };
        let total = weights.keepalive + weights.list + weights.connect;
        let r = self.rng.u32(..total);
        if r < weights.keepalive {
            OP_KEEPALIVE
        } else if r < weights.keepalive + weights.list {
            OP_LIST
        } else {
            OP_CONNECT
        }
    }

    /// A random registered peer other than `me`, by its index in `all`.
    fn target(&mut self, me: PeerId) -> Option<usize> {
        let SessionLoad::Mix { all, .. } = &self.load else {
            return None;
        };
        if all.len() < 2 {
            return None;
        }
        let t = self.rng.usize(..all.len());
        Some(if all[t].id == me {
            (t + 1) % all.len()
        } else {
            t
        })
    }

    fn member(&self, index: u64) -> Option<&Member> {
        match &self.load {
            SessionLoad::Mix { all, .. } => all.get(usize::try_from(index).ok()?),
            SessionLoad::Keepalive => None,
        }
    }
}

impl Workload for SessionWorkload {
    type Body = Reply;

    fn request(&mut self, peer: usize, seq: u32, buf: &mut [u8]) -> (usize, u64) {
        let Some(me) = self.peers.get(peer).map(|p| p.id) else {
            return (0, OP_KEEPALIVE);
        };
        let seq = Seq(seq);
        let mut op = self.op();
        let target = if op == OP_CONNECT {
            self.target(me)
        } else {
            None
        };
        if op == OP_CONNECT && target.is_none() {
            op = OP_LIST;
        }
        let (body, tag) = match (op, target) {
            (OP_CONNECT, Some(t)) => {
                let Some(m) = self.member(t as u64).copied() else {
                    return (0, OP_KEEPALIVE);
                };
                (
                    Body::Connect { seq, target: m.id },
                    OP_CONNECT | ((t as u64) << 2),
                )
            }
            (OP_LIST, _) => {
                let after = self.peers[peer].cursor;
                (Body::List { seq, after }, OP_LIST | (after << 2))
            }
            _ => (Body::Keepalive { seq }, OP_KEEPALIVE),
        };
        let mine = &mut self.peers[peer];
        let len = client::seal_into(
            &mut mine.session,
            &body,
            &mut self.plain,
            &mut self.frame,
            buf,
        );
        (len, tag)
    }

    fn parse(&mut self, peer: usize, datagram: &[u8]) -> Parsed<Reply> {
        let Some(mine) = self.peers.get_mut(peer) else {
            return Parsed::Garbage;
        };
        match client::open(&mut mine.session, datagram, &mut self.scratch) {
            Opened::Reply(seq, body) => Parsed::Reply { seq: seq.0, body },
            Opened::Push => Parsed::Push,
            Opened::Garbage => Parsed::Garbage,
        }
    }

    fn judge(
        &mut self,
        peer: usize,
        local: SocketAddr,
        tag: u64,
        body: Reply,
        _counted: bool,
    ) -> Verdict {
        let op = tag & 3;
        let arg = tag >> 2;
        let Some(mine) = self.peers.get(peer) else {
            return Verdict::Invalid;
        };
        let (me, keepalive) = (mine.id, mine.keepalive);
        match body {
            Reply::Error(code) => Verdict::Error(code.as_str()),
            Reply::KeepaliveAck { keepalive: k, addr } if op == OP_KEEPALIVE => {
                if addr == local && k == keepalive {
                    Verdict::Ok
                } else {
                    Verdict::Invalid
                }
            }
            Reply::ListAck { more, peers } if op == OP_LIST => {
                let sorted = peers.windows(2).all(|w| w[0].0 < w[1].0);
                let fresh = peers.iter().all(|(id, _)| id.get() > arg && *id != me);
                self.peers[peer].cursor = match (more, peers.last()) {
                    (true, Some((last, _))) => last.get(),
                    _ => 0,
                };
                if sorted && fresh && (!more || !peers.is_empty()) {
                    Verdict::Ok
                } else {
                    Verdict::Invalid
                }
            }
            Reply::ConnectAck { target, key, addr } if op == OP_CONNECT => match self.member(arg) {
                Some(m) if m.id == target && m.key == key && m.addr == addr => Verdict::Ok,
                _ => Verdict::Invalid,
            },
            _ => Verdict::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerd_shared::proto::handshake::SessionKeys;
    use peerd_shared::proto::Session;

    fn id(n: u64) -> PeerId {
        PeerId::new(n).expect("valid id")
    }

    fn local() -> SocketAddr {
        "127.0.0.1:4000".parse().expect("literal")
    }

    /// A peer whose session with a fake server is `server`.
    fn registered(n: u64) -> (Registered, ServerSession) {
        let keys = SessionKeys {
            send: [1; 32],
            recv: [2; 32],
        };
        let theirs = SessionKeys {
            send: [2; 32],
            recv: [1; 32],
        };
        let r = Registered {
            id: id(n),
            key: PublicKey([n as u8; 32]),
            session: Session::new(keys, 10, 20),
            keepalive: 25,
            addr: local(),
        };
        (r, Session::new(theirs, 20, 10))
    }

    fn weights(keepalive: u32, list: u32, connect: u32) -> MixWeights {
        MixWeights {
            keepalive,
            list,
            connect,
        }
    }

    #[test]
    fn weights_parse() {
        assert_eq!(MixWeights::parse("2:1:1"), Ok(weights(2, 1, 1)));
        assert!(MixWeights::parse("0:0:0").is_err());
        assert!(MixWeights::parse("1:2").is_err());
        assert!(MixWeights::parse("a:1:1").is_err());
    }

    /// What the fake server reads in a request, and a sealed reply to it.
    fn exchange(
        w: &mut SessionWorkload,
        server: &mut ServerSession,
        seq: u32,
        reply: impl Fn(Seq, Body<'_>) -> Body<'static>,
    ) -> (u64, Parsed<Reply>) {
        let mut buf = [0u8; 1500];
        let (len, tag) = w.request(0, seq, &mut buf);
        let Ok(peerd_shared::proto::Frame::Transport(t)) =
            peerd_shared::proto::Frame::parse(&buf[..len])
        else {
            panic!("a TRANSPORT frame")
        };
        let mut plain = Vec::new();
        let body = Body::decode(server.open(&t, &mut plain).expect("authenticates")).unwrap();
        let answer = reply(Seq(seq), body);
        let mut p = Vec::new();
        answer.encode(&mut p);
        let mut frame = Vec::new();
        server.seal(&p, &mut frame).unwrap();
        (tag, w.parse(0, &frame))
    }

    fn verdict(w: &mut SessionWorkload, tag: u64, parsed: Parsed<Reply>) -> Verdict {
        let Parsed::Reply { body, .. } = parsed else {
            panic!("a reply")
        };
        w.judge(0, local(), tag, body, true)
    }

    #[test]
    fn keepalive_acks_must_carry_the_own_address() {
        let (me, mut server) = registered(5);
        let mut w = SessionWorkload::new(SessionLoad::Keepalive, vec![me]);
        let (tag, parsed) = exchange(&mut w, &mut server, 1, |seq, b| {
            assert_eq!(b, Body::Keepalive { seq });
            Body::KeepaliveAck {
                seq,
                keepalive: 25,
                addr: local(),
            }
        });
        assert!(matches!(parsed, Parsed::Reply { seq: 1, .. }));
        assert!(matches!(verdict(&mut w, tag, parsed), Verdict::Ok));
        let (tag, parsed) = exchange(&mut w, &mut server, 2, |seq, _| Body::KeepaliveAck {
            seq,
            keepalive: 25,
            addr: "127.0.0.1:4001".parse().unwrap(),
        });
        assert!(matches!(verdict(&mut w, tag, parsed), Verdict::Invalid));
        // A frame sealed by someone else does not authenticate.
        assert!(matches!(w.parse(0, &[0xA4; 40]), Parsed::Garbage));
    }

    #[test]
    fn list_pages_follow_more_and_reject_the_asker() {
        let (me, mut server) = registered(1);
        let all = Arc::new(vec![]);
        let load = SessionLoad::Mix {
            weights: weights(0, 1, 0),
            all,
        };
        let mut w = SessionWorkload::new(load, vec![me]);
        let page = |ids: &'static [u64], more| {
            move |seq, b: Body<'_>| {
                assert!(matches!(b, Body::List { .. }), "{b:?}");
                Body::ListAck {
                    seq,
                    more,
                    peers: ids.iter().map(|&n| (id(n), local())).collect(),
                }
            }
        };
        let (tag, parsed) = exchange(&mut w, &mut server, 9, page(&[2], true));
        assert_eq!(tag >> 2, 0, "the first page starts after 0");
        assert!(matches!(verdict(&mut w, tag, parsed), Verdict::Ok));
        let (tag, parsed) = exchange(&mut w, &mut server, 10, page(&[1], false));
        assert_eq!(tag >> 2, 2, "the next page starts after the last id");
        assert!(matches!(verdict(&mut w, tag, parsed), Verdict::Invalid));
        let (tag, parsed) = exchange(&mut w, &mut server, 11, page(&[4, 3], false));
        assert!(matches!(verdict(&mut w, tag, parsed), Verdict::Invalid));
    }

    #[test]
    fn connect_acks_must_name_the_targets_key_and_address() {
        let (me, mut server) = registered(1);
        let other = Member {
            id: id(2),
            key: PublicKey([2; 32]),
            addr: "127.0.0.1:5000".parse().unwrap(),
        };
        let all = Arc::new(vec![
            Member {
                id: id(1),
                key: me.key,
                addr: local(),
            },
            other,
        ]);
        let load = SessionLoad::Mix {
            weights: weights(0, 0, 1),
            all,
        };
        let mut w = SessionWorkload::new(load, vec![me]);
        let (tag, parsed) = exchange(&mut w, &mut server, 1, move |seq, b| {
            assert_eq!(b, Body::Connect { seq, target: id(2) });
            Body::ConnectAck {
                seq,
                target: other.id,
                key: other.key,
                addr: other.addr,
            }
        });
        assert!(matches!(verdict(&mut w, tag, parsed), Verdict::Ok));
        let (tag, parsed) = exchange(&mut w, &mut server, 2, move |seq, _| Body::ConnectAck {
            seq,
            target: other.id,
            key: PublicKey([9; 32]),
            addr: other.addr,
        });
        assert!(matches!(verdict(&mut w, tag, parsed), Verdict::Invalid));
    }
}
