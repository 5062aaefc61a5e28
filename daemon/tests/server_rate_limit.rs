//! Rate limits at the server (docs/protocol.md 7): per source `ip:port`
//! (`--rate-limit`, `--rate-burst`), an authenticated request over the
//! limit gets `rate_limited` with its `seq` (a few notices, then silence),
//! other sources behind the same IP keep their own budget, and service
//! resumes; the global cap (`--global-rate-limit`) counts all sources
//! together; excess STUN is dropped; 0 turns the limits off. Handshakes
//! and KEY_REQUESTs have a limit per source IP (`--handshake-limit`) that
//! other IPs do not share; under load (`--cookie-threshold`) a handshake
//! needs a cookie of its own source address, and junk gets nothing, not
//! even a cookie. Unauthenticated frames are never answered, over the
//! limit or not.
//!
//! Served counts are checked against what a token bucket allows over the
//! time the answers took (burst + rate x elapsed), so a slow machine
//! loosens the bound instead of failing the test.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use peerd_shared::proto::cookie::open_reply;
use peerd_shared::proto::frame::{key_request, COOKIE_REPLY_LEN};
use peerd_shared::proto::{Body, ErrorCode, Frame, Initiator, RespPayload, SecretKey};
use peerd_shared::Seq;
use support::*;

const QUIET: Duration = Duration::from_millis(300);
/// How long a flood's answers may pause before the rest count as dropped.
const FLOOD_QUIET: Duration = Duration::from_secs(1);
/// `rate_limited` answers per second per source, at most (section 7).
const NOTICES_PER_SECOND: f64 = 10.0;

/// What a flood of requests got.
#[derive(Debug, Default)]
struct Tally {
    served: usize,
    limited: usize,
    /// From the first request sent to the last answer received: every
    /// datagram was handled within it.
    elapsed: Duration,
}

impl Tally {
    /// The most a token bucket of `burst` refilling at `rate` per second
    /// can let through within the flood (one more for rounding).
    fn allowed(&self, burst: usize, rate: usize) -> usize {
        burst + (rate as f64 * self.elapsed.as_secs_f64()).ceil() as usize + 1
    }
}

/// Sends `rounds` KEEPALIVEs from each peer (round by round, each in its
/// own TRANSPORT frame, every `seq` new), then reads the answers until
/// every request has one or none came for [`FLOOD_QUIET`]. Each answer
/// must be the KEEPALIVE_ACK or the `rate_limited` of one of those
/// requests, at most once each.
fn flood(peers: &mut [Peer], rounds: usize) -> Tally {
    let start = Instant::now();
    let mut sent: Vec<HashSet<Seq>> = vec![HashSet::new(); peers.len()];
    for _ in 0..rounds {
        for (p, seqs) in peers.iter_mut().zip(&mut sent) {
            let seq = p.seq();
            let frame = p.seal(&Peer::encode(&Body::Keepalive { seq }));
            p.client.send(&frame);
            seqs.insert(seq);
        }
    }
    let asked = sent.clone();
    let mut tally = Tally::default();
    let mut last = None::<Instant>;
    loop {
        let mut got = false;
        for ((p, seqs), asked) in peers.iter_mut().zip(&mut sent).zip(&asked) {
            while let Some(bytes) = p.client.recv_within(Duration::from_millis(1)) {
                let Some(payload) = p.open(&bytes) else {
                    panic!("a datagram that is not ours: {bytes:02x?}");
                };
                let seq = payload.seq().expect("a reply");
                if !asked.contains(&seq) {
                    // A late answer to a retransmission before the flood.
                    continue;
                }
                assert!(seqs.remove(&seq), "{seq} answered twice");
                match payload.body() {
                    Body::KeepaliveAck { .. } => tally.served += 1,
                    Body::Error {
                        code: ErrorCode::RateLimited,
                        ..
                    } => tally.limited += 1,
                    other => panic!("unexpected {other:?}"),
                }
                (got, last) = (true, Some(Instant::now()));
            }
        }
        let waited = last.map_or(start.elapsed(), |t| t.elapsed());
        let all = sent.iter().all(HashSet::is_empty);
        if all || (!got && waited > last.map_or(DEADLINE, |_| FLOOD_QUIET)) {
            break;
        }
    }
    tally.elapsed = last.map_or(Duration::ZERO, |t| t - start);
    tally
}

#[test]
fn per_source_limit_answers_rate_limited_and_recovers() {
    let server = Server::fresh(&["--rate-limit", "20", "--rate-burst", "20"]);
    let noisy = Peer::join(&server);
    let mut noisy = [noisy];
    let t = flood(&mut noisy, 200);
    eprintln!("200 requests with a burst of 20: {t:?}");
    // The join spent a few datagrams of the burst.
    assert!(t.served >= 10, "served {} with a burst of 20", t.served);
    assert!(
        t.served <= t.allowed(20, 20),
        "served {} within {:?}",
        t.served,
        t.elapsed
    );
    assert!(t.limited >= 1, "no rate_limited answer");
    let notices = (NOTICES_PER_SECOND * t.elapsed.as_secs_f64()).ceil() as usize + 1;
    assert!(
        t.limited <= notices,
        "{} rate_limited answers within {:?}: a flood is mostly dropped",
        t.limited,
        t.elapsed
    );
    assert!(t.served + t.limited < 200, "{t:?}");
    server.wait_for_log("rate_limited");

    // Another port on the same IP has its own budget.
    let mut neighbour = Peer::join(&server);
    assert!(matches!(
        neighbour.call(Req::Keepalive).body(),
        Body::KeepaliveAck { .. }
    ));

    // The noisy source is served again once its bucket refills.
    let [noisy] = &mut noisy;
    poll("the noisy source to be served again", || {
        matches!(noisy.call(Req::Keepalive).body(), Body::KeepaliveAck { .. }).then_some(())
    });
}

#[test]
fn global_cap_limits_all_sources_together() {
    let server = Server::fresh(&["--rate-limit", "0", "--global-rate-limit", "50"]);
    let mut peers: Vec<Peer> = (0..5).map(|_| Peer::join(&server)).collect();
    let t = flood(&mut peers, 40);
    eprintln!("200 requests from 5 sources under a global cap of 50/s: {t:?}");
    assert!(t.served >= 25, "served {}", t.served);
    assert!(
        t.served <= t.allowed(50, 50),
        "served {} within {:?}",
        t.served,
        t.elapsed
    );
    assert!(t.limited >= 1, "no rate_limited answer");
    assert!(t.served + t.limited <= 200);
}

#[test]
fn rate_limit_zero_turns_it_off() {
    let server = Server::fresh(&["--rate-limit", "0", "--global-rate-limit", "0"]);
    let mut p = [Peer::join(&server)];
    let mut served = 0;
    for _ in 0..10 {
        let t = flood(&mut p, 100);
        assert_eq!(t.limited, 0);
        served += t.served;
    }
    assert_eq!(served, 1000);
}

#[test]
fn excess_stun_is_dropped() {
    let server = Server::fresh(&["--rate-limit", "10", "--rate-burst", "10"]);
    let c = server.client();
    let start = Instant::now();
    for i in 0..100u8 {
        c.send(&peerd_shared::stun::binding_request([i; 12]));
    }
    let mut answers = 0;
    for bytes in c.recv_burst(FLOOD_QUIET) {
        peerd_shared::stun::parse_binding_response(&bytes).expect("only STUN answers");
        answers += 1;
    }
    let elapsed = start.elapsed().saturating_sub(FLOOD_QUIET);
    let allowed = 10 + (10.0 * elapsed.as_secs_f64()).ceil() as usize + 1;
    assert!(
        (10..=allowed).contains(&answers),
        "{answers} STUN answers with a burst of 10 within {elapsed:?}"
    );
}

/// Answers to one source in a row leave the server as one segmented send
/// (UDP GSO, docs/operate.md): each must still arrive as its own datagram,
/// a whole STUN answer for its own request.
#[test]
fn a_burst_of_stun_from_one_source_gets_one_whole_answer_per_request() {
    let server = Server::fresh(&["--rate-limit", "0", "--global-rate-limit", "0"]);
    let c = server.client();
    let txids: Vec<[u8; 12]> = (0..64u8).map(|i| [i; 12]).collect();
    for t in &txids {
        c.send(&peerd_shared::stun::binding_request(*t));
    }
    let mut answered = HashSet::new();
    let deadline = Instant::now() + DEADLINE;
    while answered.len() < txids.len() {
        let Some(bytes) = c.recv_within(deadline.saturating_duration_since(Instant::now())) else {
            break;
        };
        let r = peerd_shared::stun::parse_binding_response(&bytes).expect("a whole STUN answer");
        assert_eq!(
            r.mapped,
            c.addr(),
            "each answer carries the client's address"
        );
        assert!(answered.insert(r.txid), "one answer per request");
    }
    let asked: HashSet<_> = txids
        .into_iter()
        .map(peerd_shared::stun::TransactionId::Rfc5389)
        .collect();
    assert_eq!(answered, asked);
}

#[test]
fn unauthenticated_frames_over_the_limit_get_no_answer() {
    let server = Server::fresh(&["--rate-limit", "5", "--rate-burst", "5"]);
    let mut p = Peer::join(&server);
    // Frames on p's session that do not authenticate, from p's own
    // socket: a wrong tag, a flipped counter, a receiver index of nobody.
    let seq = p.seq();
    let good = p.seal(&Peer::encode(&Body::Keepalive { seq }));
    let mut forgeries = Vec::new();
    for at in [good.len() - 1, 6, 1] {
        let mut f = good.clone();
        f[at] ^= 0x40;
        forgeries.push(f);
    }
    for _ in 0..30 {
        for f in &forgeries {
            p.client.send(f);
        }
    }
    // No answer, not even rate_limited.
    p.client.expect_silence(QUIET);
    // p's session is intact: served again once its bucket refilled.
    poll("p to be served after the forgeries", || {
        matches!(p.call(Req::Keepalive).body(), Body::KeepaliveAck { .. }).then_some(())
    });
    server.wait_for_log("a frame that does not authenticate");
}

/// Reads from `c` the one answer (HANDSHAKE_RESP or COOKIE_REPLY) to each
/// of `inits`, by the index it echoes; returned in the order of `inits`.
fn answers(c: &Client, inits: &[(Vec<u8>, Initiator)]) -> Vec<Vec<u8>> {
    let mut got: Vec<Option<Vec<u8>>> = vec![None; inits.len()];
    while got.iter().any(Option::is_none) {
        let bytes = c.recv();
        let receiver = match Frame::parse(&bytes) {
            Ok(Frame::Resp(r)) => r.receiver,
            Ok(Frame::Cookie(r)) => r.receiver,
            other => panic!("not an answer to a handshake: {other:?}"),
        };
        let at = inits
            .iter()
            .position(|(_, i)| i.sender == receiver)
            .expect("answers one of the INITs");
        assert!(got[at].replace(bytes).is_none(), "INIT {at} answered twice");
    }
    got.into_iter().flatten().collect()
}

fn is_cookie(bytes: &[u8]) -> bool {
    matches!(Frame::parse(bytes), Ok(Frame::Cookie(_)))
}

/// Counts the HANDSHAKE_RESPs (or KEY_REPLYs) on `c`, waiting `first`
/// for the first, until it is quiet; and when the last came.
fn count_answers(c: &Client, first: Duration) -> (usize, Option<Instant>) {
    let mut n = 0;
    let mut last = None;
    while let Some(bytes) = c.recv_within(if n == 0 { first } else { FLOOD_QUIET }) {
        assert!(
            matches!(
                Frame::parse(&bytes),
                Ok(Frame::Resp(_) | Frame::KeyReply(_))
            ),
            "{bytes:02x?}"
        );
        n += 1;
        last = Some(Instant::now());
    }
    (n, last)
}

#[test]
fn handshake_limit_is_per_ip_and_counts_key_requests() {
    let server = Server::fresh(&["--handshake-limit", "5"]);
    let key = server.key();
    let a = Peer::join(&server);

    // 40 handshakes of a's key from a new port of 127.0.0.1, then 20
    // KEY_REQUESTs from yet another: one budget of 10 (burst) + 5/s.
    let c = server.client();
    let mut keys = Keys::with(a.keys.identity.clone(), key);
    let start = Instant::now();
    for _ in 0..40 {
        c.send(&keys.init().0);
    }
    let asker = server.client();
    for _ in 0..20 {
        asker.send(&key_request());
    }
    let (handshakes, t1) = count_answers(&c, DEADLINE);
    // Sent after the INITs: handled by the time those are answered.
    let (replies, t2) = count_answers(&asker, FLOOD_QUIET);
    let elapsed = t1.max(t2).map_or(Duration::ZERO, |t| t - start);
    let allowed = 10 + (5.0 * elapsed.as_secs_f64()).ceil() as usize + 1;
    eprintln!("{handshakes} handshakes and {replies} key replies answered within {elapsed:?}");
    assert!(handshakes >= 5, "{handshakes} handshakes answered");
    assert!(handshakes + replies <= allowed, "over the limit");
    assert!(replies < 20, "KEY_REQUEST shares the per-IP limit");
    server.wait_for_log("handshake rate limit of its IP");

    // Another IP is not limited: 127.0.0.2 registers at once.
    let other_ip: SocketAddr = "127.0.0.2:0".parse().expect("literal");
    let other = Client::bind(other_ip, server.addr);
    other.send(&key_request());
    assert!(matches!(Frame::parse(&other.recv()), Ok(Frame::KeyReply(k)) if k == key));
    let b = Peer::join_with(other, Keys::new(key));
    assert_eq!(b.seen_as.ip(), other_ip.ip());

    // 127.0.0.1 is served again once its bucket refilled.
    poll("127.0.0.1 to be served again", || {
        let c = server.client();
        c.send(&key_request());
        c.recv_within(QUIET).map(|_| ())
    });
}

#[test]
fn under_load_a_handshake_needs_a_cookie_of_its_own_address() {
    // Under load when more than one INIT with a good mac1 came within a
    // second (section 3.4).
    let server = Server::fresh(&["--cookie-threshold", "1"]);
    let key = server.key();
    let a = Peer::join(&server);
    let c = server.client();
    let mut keys = Keys::with(a.keys.identity.clone(), key);

    // Three INITs at once: the third at least finds the server under load.
    let inits: Vec<_> = (0..3).map(|_| keys.init()).collect();
    for (bytes, _) in &inits {
        c.send(bytes);
    }
    let got = answers(&c, &inits);
    let reply = &got[2];
    assert!(is_cookie(reply), "the third INIT is answered with a cookie");
    assert_eq!(reply.len(), COOKIE_REPLY_LEN);
    assert!(reply.len() < inits[2].0.len(), "no amplification");
    let Ok(Frame::Cookie(cookie)) = Frame::parse(reply) else {
        unreachable!("checked above")
    };
    assert!(
        open_reply(&key, &cookie, &inits[0].1.mac1).is_none(),
        "a cookie opens only with the mac1 of the INIT it answers"
    );
    assert!(keys.take_cookie(&cookie, &inits[2].1));

    // The cookie from another address: mac2 does not hold there, so the
    // server asks again (the third of three, surely under load).
    let mut thief = keys.clone();
    let elsewhere = server.client();
    let stolen: Vec<_> = (0..3).map(|_| thief.init()).collect();
    for (bytes, _) in &stolen {
        elsewhere.send(bytes);
    }
    assert!(
        is_cookie(&answers(&elsewhere, &stolen)[2]),
        "a cookie of another address does not pass"
    );

    // Junk under load gets nothing, not even a cookie: a handshake for
    // another server's key (bad mac1), an INIT one byte short.
    let another_server = SecretKey::generate().expect("a key").public_key();
    let mut stranger = Keys::new(another_server);
    c.send_unanswered(&stranger.init().0, QUIET);
    let (bytes, _) = keys.init();
    c.send_unanswered(&bytes[..bytes.len() - 1], QUIET);

    // With the cookie of its own address the handshake goes through.
    let (bytes, init) = keys.init();
    c.send(&bytes);
    let answer = c.recv();
    let Ok(Frame::Resp(resp)) = Frame::parse(&answer) else {
        panic!("a cookie holder is answered: {answer:02x?}");
    };
    let (_, payload) = init
        .finish(&keys.identity, &resp)
        .expect("the answer authenticates");
    assert!(
        matches!(payload, RespPayload::Registered { id, addr, .. } if id == a.id && addr == c.addr()),
        "{payload:?}"
    );
}
