//! The registration on a fake clock: REGISTER retries and giving up,
//! keepalive refreshes, deferred requests, re-registration after
//! `unauthorized`, LIST paging, CONNECT answers, UNREGISTER, and RELAY's
//! need of the registration. Every test asserts the datagrams and answers
//! returned at given instants.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use peerd_shared::control::{ListedPeer, RegState};
use peerd_shared::wire::{self, ErrorCode, Packet, PeerEntry};
use peerd_shared::{PeerId, Seq, Token};

use super::{Action, Answer, LinkError, Registration};
use crate::peer::core::transport::{Inbound, PeerPacket, Route, SealError, Transport};

const SERVER: &str = "10.0.0.1:8080";
const TOKEN: Token = Token([7; 16]);

fn id(n: u64) -> PeerId {
    PeerId::new(n).expect("valid id")
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// A registration on a fake clock, and what it sent and answered.
struct Link {
    reg: Registration<u32>,
    t0: Instant,
}

/// What came out at one instant, decoded.
#[derive(Debug, Default)]
struct Out {
    sent: Vec<Packet>,
    answers: Vec<(u32, Result<Answer, LinkError>)>,
    up: Vec<PeerId>,
    down: Vec<String>,
    remembered: Vec<PeerId>,
}

impl Link {
    fn new() -> Self {
        let transport = Transport::new(TOKEN, addr(SERVER), addr("0.0.0.0:0"), None, 100);
        let mut link = Self {
            reg: Registration::new(transport, SERVER.into()),
            t0: Instant::now(),
        };
        link.reg.start(link.t0);
        link
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn out(&mut self) -> Out {
        let mut out = Out::default();
        for action in self.reg.take_actions() {
            match action {
                Action::Send(d) => {
                    assert_eq!(d.to, addr(SERVER));
                    out.sent.push(wire::decode(&d.bytes).expect("decodes"));
                }
                Action::Answer { caller, result } => out.answers.push((caller, result)),
                Action::Up { id } => out.up.push(id),
                Action::Down { reason } => out.down.push(reason),
                Action::RememberId(id) => out.remembered.push(id),
            }
        }
        out
    }

    /// Runs the timer at `ms` (it must be due then).
    fn tick(&mut self, ms: u64) -> Out {
        assert_eq!(self.reg.poll_timeout(), Some(self.at(ms)), "next wake-up");
        self.reg.handle_timeout(self.at(ms));
        self.out()
    }

    /// The server answers `packet` at `ms`.
    fn reply(&mut self, packet: &Packet, ms: u64) -> (Option<Inbound>, Out) {
        let bytes = wire::encode(packet).expect("encodes");
        let inbound = self.reg.receive(addr(SERVER), &bytes, self.at(ms));
        (inbound, self.out())
    }
}

fn seq_of(p: &Packet) -> Seq {
    p.seq().expect("a request has a seq")
}

#[test]
fn register_retries_250_ms_doubling_then_goes_offline_and_backs_off() {
    let mut link = Link::new();
    let first = link.out();
    assert!(matches!(first.sent[..], [Packet::Register { token, .. }] if token == TOKEN));
    let seq = seq_of(&first.sent[0]);
    for ms in [250, 750, 1750, 3750] {
        let out = link.tick(ms);
        assert_eq!(out.sent.len(), 1, "retransmission at {ms} ms");
        assert_eq!(seq_of(&out.sent[0]), seq, "same seq");
    }
    let gave_up = link.tick(7750);
    assert!(gave_up.sent.is_empty());
    let status = link.reg.status();
    assert_eq!(status.state, RegState::Offline);
    assert_eq!(
        status.reason.as_deref(),
        Some("server 10.0.0.1:8080 did not answer (5 tries)")
    );
    // Offline: REGISTER again after 500 ms, then 1 s, 2 s... (new seqs).
    let again = link.tick(8250);
    assert!(matches!(again.sent[..], [Packet::Register { .. }]));
    assert_ne!(seq_of(&again.sent[0]), seq);
    for ms in [8500, 9000, 10000, 12000] {
        assert_eq!(link.tick(ms).sent.len(), 1);
    }
    assert!(link.tick(16000).sent.is_empty(), "gave up again");
    assert_eq!(link.tick(17000).sent.len(), 1, "backoff doubled to 1 s");
}

#[test]
fn registered_refreshes_every_keepalive_and_says_up_once() {
    let mut link = Link::new();
    let register = link.out().sent.remove(0);
    let ack = |seq, addr_text: &str| Packet::RegisterAck {
        seq,
        id: id(7),
        addr: addr(addr_text),
        keepalive: 10,
    };
    let (_, out) = link.reply(&ack(seq_of(&register), "203.0.113.5:4000"), 30);
    assert_eq!(out.up, [id(7)]);
    assert_eq!(out.remembered, [id(7)]);
    let status = link.reg.status();
    assert_eq!(status.state, RegState::Registered);
    assert_eq!(status.id, Some(id(7)));
    assert_eq!(status.public_addr, Some(addr("203.0.113.5:4000")));
    // Refreshed 10 s later; the same answer says nothing new.
    let refresh = link.tick(10_030).sent.remove(0);
    assert!(matches!(refresh, Packet::Register { .. }));
    let (_, out) = link.reply(&ack(seq_of(&refresh), "203.0.113.5:4000"), 10_040);
    assert!(out.up.is_empty() && out.remembered.is_empty());
    // A new public address is news.
    let refresh = link.tick(20_040).sent.remove(0);
    let (_, out) = link.reply(&ack(seq_of(&refresh), "203.0.113.5:4001"), 20_050);
    assert_eq!(out.up, [id(7)]);
}

/// A link registered as id 7 at 10 ms.
fn registered() -> Link {
    let mut link = Link::new();
    let register = link.out().sent.remove(0);
    let ack = Packet::RegisterAck {
        seq: seq_of(&register),
        id: id(7),
        addr: addr("203.0.113.5:4000"),
        keepalive: 10,
    };
    link.reply(&ack, 10);
    link
}

#[test]
fn list_pages_follow_more_with_after_and_answer_once() {
    let mut link = registered();
    link.reg.list(1, link.at(20));
    let page1 = link.out().sent.remove(0);
    assert!(matches!(page1, Packet::List { id: i, after: Some(0), .. } if i == id(7)));
    let entry = |n, port| PeerEntry {
        id: id(n),
        addr: addr(&format!("198.51.100.1:{port}")),
    };
    let ack = Packet::ListAck {
        seq: seq_of(&page1),
        peers: vec![entry(2, 2000), entry(3, 3000)],
        more: true,
    };
    let (_, out) = link.reply(&ack, 30);
    assert!(out.answers.is_empty());
    let page2 = &out.sent[0];
    assert!(matches!(page2, Packet::List { after: Some(3), .. }));
    let last = Packet::ListAck {
        seq: seq_of(page2),
        peers: vec![entry(5, 5000)],
        more: false,
    };
    let (_, out) = link.reply(&last, 40);
    let listed = |n, port| ListedPeer {
        id: id(n),
        addr: format!("198.51.100.1:{port}"),
    };
    assert_eq!(
        out.answers,
        [(
            1,
            Ok(Answer::Peers(vec![
                listed(2, 2000),
                listed(3, 3000),
                listed(5, 5000)
            ]))
        )]
    );
}

#[test]
fn requests_wait_for_the_registration_and_fail_at_once_while_offline() {
    let mut link = Link::new();
    let register = link.out().sent.remove(0);
    link.reg.connect(id(2), 1, link.at(5));
    assert!(link.out().sent.is_empty(), "deferred, REGISTER already out");
    let ack = Packet::RegisterAck {
        seq: seq_of(&register),
        id: id(7),
        addr: addr("203.0.113.5:4000"),
        keepalive: 10,
    };
    let (_, out) = link.reply(&ack, 10);
    assert!(matches!(out.sent[..], [Packet::Connect { target, .. }] if target == id(2)));
    // A REGISTER refused: offline, and requests fail at once with why.
    let mut link = Link::new();
    let register = link.out().sent.remove(0);
    let refused = Packet::Error {
        seq: seq_of(&register),
        code: ErrorCode::Internal,
        message: "disk full".into(),
    };
    link.reply(&refused, 10);
    link.reg.list(3, link.at(20));
    let out = link.out();
    assert!(out.sent.is_empty());
    let why = "server refused REGISTER: internal: disk full".to_owned();
    assert_eq!(out.answers, [(3, Err(LinkError::NotRegistered(why)))]);
}

#[test]
fn unauthorized_re_registers_and_asks_once_more() {
    let mut link = registered();
    link.reg.connect(id(2), 1, link.at(20));
    let connect = link.out().sent.remove(0);
    let unauthorized = |seq| Packet::Error {
        seq,
        code: ErrorCode::Unauthorized,
        message: String::new(),
    };
    let (_, out) = link.reply(&unauthorized(seq_of(&connect)), 30);
    assert_eq!(out.down, ["unauthorized"]);
    assert_eq!(link.reg.status().state, RegState::Connecting);
    let register = &out.sent[0];
    assert!(matches!(register, Packet::Register { .. }));
    let ack = Packet::RegisterAck {
        seq: seq_of(register),
        id: id(7),
        addr: addr("203.0.113.5:4000"),
        keepalive: 10,
    };
    let (_, out) = link.reply(&ack, 40);
    assert_eq!(out.up, [id(7)]);
    let again = &out.sent[0];
    assert!(matches!(again, Packet::Connect { .. }));
    assert_ne!(seq_of(again), seq_of(&connect), "a new request, a new seq");
    // Unauthorized a second time: the caller hears it.
    let (_, out) = link.reply(&unauthorized(seq_of(again)), 50);
    let e = LinkError::NotRegistered("unauthorized".into());
    assert_eq!(out.answers, [(1, Err(e))]);
}

#[test]
fn connect_answers_the_address_or_why_not() {
    let mut link = registered();
    let cases = [
        (None, Ok(Answer::Addr(addr("198.51.100.2:2000")))),
        (
            Some(ErrorCode::UnknownPeer),
            Err(LinkError::UnknownPeer(id(2))),
        ),
        (
            Some(ErrorCode::PeerOffline),
            Err(LinkError::PeerOffline(id(2))),
        ),
        (
            Some(ErrorCode::BadRequest),
            Err(LinkError::Refused("bad_request: no".into())),
        ),
    ];
    for (n, (code, expect)) in cases.into_iter().enumerate() {
        let caller = u32::try_from(n).expect("small");
        link.reg.connect(id(2), caller, link.at(20));
        let seq = seq_of(&link.out().sent[0]);
        let reply = match code {
            None => Packet::ConnectAck {
                seq,
                target: id(2),
                addr: addr("198.51.100.2:2000"),
            },
            Some(code) => Packet::Error {
                seq,
                code,
                message: "no".into(),
            },
        };
        let (_, out) = link.reply(&reply, 30);
        assert_eq!(out.answers, [(caller, expect)]);
    }
}

#[test]
fn an_unanswered_request_fails_and_the_link_registers_again() {
    let mut link = registered();
    link.reg.list(4, link.at(20));
    assert_eq!(link.out().sent.len(), 1);
    // The 10 s refresh is later than the LIST's five tries (20 + 7750 ms).
    for ms in [270, 770, 1770, 3770] {
        assert_eq!(link.tick(ms).sent.len(), 1);
    }
    let out = link.tick(7770);
    let why = "server 10.0.0.1:8080 did not answer (5 tries)".to_owned();
    assert_eq!(out.answers, [(4, Err(LinkError::NotRegistered(why)))]);
    assert!(matches!(out.sent[..], [Packet::Register { .. }]));
}

#[test]
fn unregister_asks_the_server_then_stops_registering() {
    let mut link = Link::new();
    link.out();
    link.reg.unregister(9, link.at(5));
    assert_eq!(
        link.out().answers,
        [(9, Ok(Answer::Unregistered))],
        "not registered: nothing to undo"
    );
    let mut link = registered();
    link.reg.unregister(9, link.at(20));
    let unregister = link.out().sent.remove(0);
    assert!(matches!(unregister, Packet::Unregister { id: i, .. } if i == id(7)));
    let ack = Packet::UnregisterAck {
        seq: seq_of(&unregister),
    };
    let (_, out) = link.reply(&ack, 30);
    assert_eq!(out.answers, [(9, Ok(Answer::Unregistered))]);
    assert_eq!(link.reg.poll_timeout(), None, "no refresh after UNREGISTER");
}

#[test]
fn relaying_needs_the_registration_and_relay_errors_are_told_apart() {
    let mut link = Link::new();
    link.out();
    let punch = PeerPacket::Punch { nonce: 1 };
    let now = link.at(5);
    assert_eq!(
        link.reg.transmit(id(2), Route::Relayed, punch.clone(), now),
        Err(SealError::NoId)
    );
    let mut link = registered();
    let direct = Route::Direct(addr("198.51.100.2:2000"));
    assert_eq!(
        link.reg.transmit(id(2), direct, punch.clone(), link.at(20)),
        Ok(())
    );
    let actions = link.reg.take_actions();
    assert!(matches!(&actions[..], [Action::Send(d)] if d.to == addr("198.51.100.2:2000")));
    link.reg
        .transmit(id(2), Route::Relayed, punch.clone(), link.at(20))
        .expect("relayed");
    let relay = link.out().sent.remove(0);
    assert!(matches!(relay, Packet::Relay { target, .. } if target == id(2)));
    let refused = Packet::Error {
        seq: seq_of(&relay),
        code: ErrorCode::Unauthorized,
        message: String::new(),
    };
    let (inbound, out) = link.reply(&refused, 30);
    assert!(matches!(
        inbound,
        Some(Inbound::RelayRefused { target, code: ErrorCode::Unauthorized, .. }) if target == id(2)
    ));
    assert!(
        matches!(out.sent[..], [Packet::Register { .. }]),
        "re-registers"
    );
    assert_eq!(
        link.reg
            .transmit(id(2), Route::Relayed, punch.clone(), link.at(40)),
        Err(SealError::NotRegistered),
        "not registered until the REGISTER is answered"
    );
}
