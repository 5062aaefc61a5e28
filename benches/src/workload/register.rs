//! The `register` workload: every request is a full REGISTER handshake
//! with a brand-new key, so the server binds a new durable id each time
//! (protocol v2, sections 3 and 5.1). The request's `seq` is the INIT's
//! `sender`, which the HANDSHAKE_RESP and the COOKIE_REPLY echo as
//! `receiver`.
//!
//! Each request is a new daemon: it holds no cookie. When the server is
//! under load it answers COOKIE_REPLY; the workload then sends at once a
//! fresh INIT (another new key, its own ephemeral key and timestamp) with
//! `mac2` made from that cookie, on the same socket, and the request is
//! answered when that handshake is (its latency includes the cookie round
//! trip). To the server, a fresh INIT from a new key is the same work
//! whichever new key it carries.
//!
//! Where the generator's CPU goes, and why it is moved out of the measured
//! interval: a handshake costs the initiator about as much as the server
//! (X25519: a key pair, `es` and `ss` to write the INIT, `ee` and `se` to
//! read the answer; measured 13 + 106 + 80 us of CPU on the machine of
//! RESULTS.md against the server's 93 + 95 us). On a 2-core machine shared
//! by both, a generator doing that work inline would measure itself. So
//! the keys and INITs are made before the run ([`prepare`], on every
//! generator thread), only `sender`, `mac1` and `mac2` are written at send
//! time, and the answers are kept and checked in full after the measured
//! interval ([`Workload::settle`]): `mac1` at once, then the Noise
//! message, the REGISTERED payload (the socket's own address, an id no
//! other registration of the same thread got) or the ERROR code. An answer that
//! fails there is taken off `ok` and counted invalid (or as an error).
//! When the prepared INITs run out, new ones are made inline and counted
//! (`inline_inits`).

use std::collections::HashSet;
use std::net::SocketAddr;

use peerd_shared::proto::crypto::MAC_LEN;
use peerd_shared::proto::{Frame, Identity, Initiator};
use peerd_shared::PeerId;

use crate::client::{self, readdress_init, register_init, Outcome, ServerKey};
use crate::engine::{Parsed, Stats, Verdict, Workload};
use crate::error::BenchError;

/// A HANDSHAKE_INIT made ahead of time, with what finishes it.
pub struct Prepared {
    identity: Identity,
    bytes: Vec<u8>,
    init: Initiator,
}

/// Makes `n` keys and their REGISTER INITs to `server`.
pub fn prepare(server: &ServerKey, n: usize) -> Result<Vec<Prepared>, BenchError> {
    (0..n).map(|_| make(server)).collect()
}

fn make(server: &ServerKey) -> Result<Prepared, BenchError> {
    let identity = client::new_identity()?;
    let (bytes, init) = register_init(&identity, server, 0, None)?;
    Ok(Prepared {
        identity,
        bytes,
        init,
    })
}

/// A handshake sent and not yet answered.
struct InFlight {
    seq: u32,
    identity: Identity,
    init: Initiator,
    /// The cookie of a COOKIE_REPLY to it, for the retry.
    cookie: Option<[u8; MAC_LEN]>,
}

/// An answer to check after the run.
struct Deferred {
    identity: Identity,
    init: Initiator,
    resp: Vec<u8>,
    local: SocketAddr,
}

/// What `parse` hands to `judge`: the answer and the handshake it answers.
pub struct Answer {
    identity: Identity,
    init: Initiator,
    resp: Vec<u8>,
}

/// The register workload of one thread.
pub struct RegisterWorkload {
    server: ServerKey,
    pool: Vec<Prepared>,
    /// Per peer: its handshakes in flight (at most the window).
    flying: Vec<Vec<InFlight>>,
    deferred: Vec<Deferred>,
    inline: u64,
}

impl RegisterWorkload {
    /// A workload for `peers` sockets drawing on `pool`.
    pub fn new(server: ServerKey, peers: usize, pool: Vec<Prepared>) -> Self {
        Self {
            server,
            pool,
            flying: (0..peers).map(|_| Vec::new()).collect(),
            deferred: Vec::new(),
            inline: 0,
        }
    }

    /// The next prepared INIT, or a new one.
    fn next(&mut self) -> Option<Prepared> {
        if let Some(p) = self.pool.pop() {
            return Some(p);
        }
        self.inline += 1;
        make(&self.server).ok()
    }

    /// Sends a new handshake as request `seq` of `peer`, with `cookie`.
    fn start(
        &mut self,
        peer: usize,
        seq: u32,
        cookie: Option<&[u8; MAC_LEN]>,
        buf: &mut [u8],
    ) -> usize {
        let Some(mut p) = self.next() else { return 0 };
        if p.bytes.len() > buf.len() {
            return 0;
        }
        readdress_init(&mut p.bytes, &mut p.init, &self.server, seq, cookie);
        buf[..p.bytes.len()].copy_from_slice(&p.bytes);
        let Some(flying) = self.flying.get_mut(peer) else {
            return 0;
        };
        flying.retain(|f| f.seq != seq);
        flying.push(InFlight {
            seq,
            identity: p.identity,
            init: p.init,
            cookie: None,
        });
        p.bytes.len()
    }
}

impl Workload for RegisterWorkload {
    type Body = Answer;

    fn request(&mut self, peer: usize, seq: u32, buf: &mut [u8]) -> (usize, u64) {
        (self.start(peer, seq, None, buf), 0)
    }

    fn parse(&mut self, peer: usize, datagram: &[u8]) -> Parsed<Answer> {
        let Some(flying) = self.flying.get_mut(peer) else {
            return Parsed::Garbage;
        };
        match Frame::parse(datagram) {
            Ok(Frame::Resp(r)) => {
                let Some(k) = flying.iter().position(|f| f.seq == r.receiver) else {
                    return Parsed::Garbage;
                };
                let f = flying.swap_remove(k);
                Parsed::Reply {
                    seq: f.seq,
                    body: Answer {
                        identity: f.identity,
                        init: f.init,
                        resp: datagram.to_vec(),
                    },
                }
            }
            Ok(Frame::Cookie(c)) => {
                let Some(f) = flying.iter_mut().find(|f| f.seq == c.receiver) else {
                    return Parsed::Garbage;
                };
                match self.server.cookie(&c, &f.init.mac1) {
                    Some(cookie) => {
                        f.cookie = Some(cookie);
                        Parsed::Retry { seq: c.receiver }
                    }
                    None => Parsed::Garbage,
                }
            }
            _ => Parsed::Garbage,
        }
    }

    fn judge(
        &mut self,
        _peer: usize,
        local: SocketAddr,
        _tag: u64,
        a: Answer,
        counted: bool,
    ) -> Verdict {
        let Ok(Frame::Resp(r)) = Frame::parse(&a.resp) else {
            return Verdict::Invalid;
        };
        if !a.identity.mac1_ok(r.mac1_input, &r.mac1) {
            return Verdict::Invalid;
        }
        if counted {
            self.deferred.push(Deferred {
                identity: a.identity,
                init: a.init,
                resp: a.resp,
                local,
            });
        }
        Verdict::Ok
    }

    fn retry(&mut self, peer: usize, seq: u32, _tag: u64, buf: &mut [u8]) -> usize {
        let cookie = self
            .flying
            .get_mut(peer)
            .and_then(|f| f.iter_mut().find(|f| f.seq == seq))
            .and_then(|f| f.cookie.take());
        match cookie {
            Some(cookie) => self.start(peer, seq, Some(&cookie), buf),
            None => 0,
        }
    }

    fn forget(&mut self, peer: usize, seq: u32, _tag: u64) {
        if let Some(flying) = self.flying.get_mut(peer) {
            flying.retain(|f| f.seq != seq);
        }
    }

    fn settle(&mut self, stats: &mut Stats) {
        let mut ids: HashSet<PeerId> = HashSet::with_capacity(self.deferred.len());
        for d in self.deferred.drain(..) {
            let verdict = match Frame::parse(&d.resp) {
                Ok(Frame::Resp(r)) => match client::finish(d.init, &d.identity, &r) {
                    Ok(Outcome::Registered(reg)) if reg.addr == d.local && ids.insert(reg.id) => {
                        Verdict::Ok
                    }
                    Ok(Outcome::Refused(code)) => Verdict::Error(code.as_str()),
                    _ => Verdict::Invalid,
                },
                _ => Verdict::Invalid,
            };
            match verdict {
                Verdict::Ok => {}
                Verdict::Error(code) => {
                    stats.ok -= 1;
                    *stats.errors.entry(code).or_default() += 1;
                }
                Verdict::Invalid => {
                    stats.ok -= 1;
                    stats.invalid += 1;
                }
            }
        }
        *stats.notes.entry("inline_inits").or_default() += self.inline;
        *stats.notes.entry("prepared_unused").or_default() += self.pool.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerd_shared::proto::cookie::CookieGuard;
    use peerd_shared::proto::handshake::accept;
    use peerd_shared::proto::{RespPayload, SecretKey};
    use std::time::Instant;

    fn server() -> Identity {
        Identity::new(SecretKey::from_bytes([3; 32]))
    }

    fn local() -> SocketAddr {
        "127.0.0.1:4000".parse().unwrap()
    }

    /// The server's answer to the INIT in `bytes`.
    fn answer(server: &Identity, bytes: &[u8], id: u64, addr: SocketAddr) -> Vec<u8> {
        let Ok(Frame::Init(init)) = Frame::parse(bytes) else {
            panic!("an INIT")
        };
        let payload = RespPayload::Registered {
            id: PeerId::new(id).unwrap(),
            keepalive: 25,
            addr,
        };
        accept(server, &init)
            .unwrap()
            .respond(77, &payload)
            .unwrap()
            .0
    }

    #[test]
    fn answers_are_checked_in_full_after_the_run() {
        let s = server();
        let key = ServerKey::new(s.public);
        let mut w = RegisterWorkload::new(key, 1, prepare(&key, 1).unwrap());
        let mut buf = [0u8; 1500];
        let mut stats = Stats::new();
        // Request 1 is answered right, request 2 with another address,
        // request 3 with the id request 1 got.
        for (seq, id, addr) in [
            (1, 10, local()),
            (2, 11, "127.0.0.1:9".parse().unwrap()),
            (3, 10, local()),
        ] {
            let (len, tag) = w.request(0, seq, &mut buf);
            let resp = answer(&s, &buf[..len], id, addr);
            let Parsed::Reply { seq: got, body } = w.parse(0, &resp) else {
                panic!("a reply")
            };
            assert_eq!(got, seq);
            assert!(matches!(w.judge(0, local(), tag, body, true), Verdict::Ok));
            stats.ok += 1;
        }
        w.settle(&mut stats);
        assert_eq!((stats.ok, stats.invalid), (1, 2));
        assert_eq!(stats.notes["inline_inits"], 2, "one INIT was prepared");
    }

    #[test]
    fn a_cookie_reply_is_answered_with_mac2() {
        let s = server();
        let key = ServerKey::new(s.public);
        let mut w = RegisterWorkload::new(key, 1, Vec::new());
        let mut buf = [0u8; 1500];
        let (len, _) = w.request(0, 5, &mut buf);
        let guard = CookieGuard::new(&s.public, [8; 32], Instant::now());
        let Ok(Frame::Init(init)) = Frame::parse(&buf[..len]) else {
            panic!("an INIT")
        };
        assert!(
            !guard.mac2_ok(local(), &init),
            "a new daemon holds no cookie"
        );
        let reply = guard.reply(local(), &init, [1; 24]);
        assert!(matches!(w.parse(0, &reply), Parsed::Retry { seq: 5 }));
        let len = w.retry(0, 5, 0, &mut buf);
        let Ok(Frame::Init(again)) = Frame::parse(&buf[..len]) else {
            panic!("an INIT")
        };
        assert_eq!(again.sender, 5);
        assert!(guard.mac2_ok(local(), &again));
        // The cookie was for one retry only.
        assert_eq!(w.retry(0, 5, 0, &mut buf), 0);
    }
}
