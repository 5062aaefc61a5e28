//! The registration on a fake clock, against the real server core
//! (`core::testnet`): the server's key on first contact, REGISTER
//! handshake rounds and giving up, KEEPALIVE refreshes, re-keying,
//! deferred requests, re-registration after `unauthorized` and after a
//! server that stopped answering, LIST paging, CONNECT answers and pinned
//! keys, UNREGISTER, a server presenting another key. Every test asserts
//! what was sent and answered at given instants.

use peerd_shared::control::RegState;
use peerd_shared::proto::frame::ty;
use peerd_shared::proto::{PublicKey, REKEY_AFTER};

use super::{Answer, LinkError};
use crate::peer::core::testnet::{addr, id, Net, KEEPALIVE_SECS, SERVER};

/// The first byte of every datagram node `i` sent since `mark`.
fn sent_kinds(net: &Net, i: usize, mark: usize) -> Vec<(u64, u8)> {
    let _ = net.ms;
    net.since(mark)
        .iter()
        .filter(|(from, to, _)| *from == net.nodes[i].addr && *to == addr(SERVER))
        .map(|(_, _, b)| (0, b[0]))
        .collect()
}

#[test]
fn the_server_key_is_learned_on_first_contact_and_pinned() {
    let mut net = Net::new();
    let a = net.node(1, false);
    let now = net.now();
    net.nodes[a].reg.start(now);
    net.settle();
    let kinds: Vec<u8> = sent_kinds(&net, a, 0).into_iter().map(|(_, k)| k).collect();
    assert_eq!(
        kinds[..3],
        [ty::KEY_REQUEST, ty::HANDSHAKE_INIT, ty::TRANSPORT]
    );
    assert_eq!(net.nodes[a].pinned, [(None, net.server_key)]);
    assert_eq!(net.nodes[a].link, [Ok(id(1))]);
    let status = net.nodes[a].reg.status();
    assert_eq!(status.state, RegState::Registered);
    assert_eq!(status.server_key, Some(net.server_key));
    assert_eq!(status.public_addr, Some(net.nodes[a].addr));
}

#[test]
fn register_rounds_of_five_tries_then_offline_and_half_a_second_more() {
    let mut net = Net::new();
    net.lose_to.insert(addr(SERVER));
    let a = net.node(1, true);
    let now = net.now();
    net.nodes[a].reg.start(now);
    net.settle();
    let mut inits = Vec::new();
    for ms in [0, 250, 750, 1750, 3750, 7749] {
        net.at(ms);
        inits.push(
            net.wire
                .iter()
                .filter(|(_, _, b)| b[0] == ty::HANDSHAKE_INIT)
                .count(),
        );
    }
    assert_eq!(inits, [1, 2, 3, 4, 5, 5], "a new INIT per try, 5 a round");
    assert_eq!(net.nodes[a].reg.status().state, RegState::Connecting);
    net.at(7750);
    let status = net.nodes[a].reg.status();
    assert_eq!(status.state, RegState::Offline);
    assert_eq!(
        status.reason.as_deref(),
        Some("server 10.0.0.1:8080 did not answer")
    );
    assert_eq!(
        net.wire.last().map(|(_, _, b)| b[0]),
        Some(ty::KEY_REQUEST),
        "does the server present another key?"
    );
    // Every INIT was a new handshake: no two alike.
    let mut all: Vec<&Vec<u8>> = net.wire.iter().map(|(_, _, b)| b).collect();
    all.dedup();
    assert_eq!(all.len(), net.wire.len());
    net.lose_to.clear();
    net.at(8250);
    assert_eq!(
        net.nodes[a].reg.status().state,
        RegState::Registered,
        "the next round"
    );
}

#[test]
fn keepalive_refreshes_and_the_session_is_rekeyed_every_600_s() {
    let mut net = Net::new();
    let a = net.registered(1);
    let inits = |net: &Net| {
        net.wire
            .iter()
            .filter(|(_, _, b)| b[0] == ty::HANDSHAKE_INIT)
            .count()
    };
    assert_eq!(inits(&net), 1);
    let mark = net.wire.len();
    net.at(KEEPALIVE_SECS * 1000);
    assert!(
        net.since(mark)
            .iter()
            .any(|(f, _, b)| *f == net.nodes[a].addr && b[0] == ty::TRANSPORT),
        "a KEEPALIVE after 10 s"
    );
    for s in (20..600).step_by(10) {
        net.at(s * 1000);
    }
    assert_eq!(inits(&net), 1, "no handshake before 600 s");
    net.at(u64::try_from(REKEY_AFTER.as_millis()).unwrap());
    assert_eq!(inits(&net), 2, "re-keyed");
    assert_eq!(
        net.nodes[a].link,
        [Ok(id(1))],
        "without leaving the registration"
    );
    net.at(610_000);
    let now = net.now();
    net.nodes[a].reg.list(5, now);
    net.settle();
    assert!(matches!(
        net.nodes[a].answers.last(),
        Some((5, Ok(Answer::Peers(_))))
    ));
}

#[test]
fn list_pages_follow_more_and_answer_once_with_every_peer() {
    let mut net = Net::new();
    let a = net.registered(1);
    for n in 2..=100u8 {
        net.registered(n);
    }
    let mark = net.wire.len();
    let now = net.now();
    net.nodes[a].reg.list(7, now);
    net.settle();
    let asked = net
        .since(mark)
        .iter()
        .filter(|(f, _, _)| *f == net.nodes[a].addr)
        .count();
    assert!(asked >= 2, "several pages: {asked}");
    let [(7, Ok(Answer::Peers(peers)))] = net.nodes[a].answers.as_slice() else {
        panic!("one answer: {:?}", net.nodes[a].answers)
    };
    let ids: Vec<u64> = peers.iter().map(|p| p.id.get()).collect();
    assert_eq!(ids, (2..=100).collect::<Vec<_>>());
}

#[test]
fn connect_answers_the_address_and_pins_the_key_or_says_why_not() {
    let mut net = Net::new();
    let a = net.registered(1);
    let b = net.registered(2);
    let now = net.now();
    net.nodes[a].reg.connect(id(2), 1, now);
    net.nodes[a].reg.connect(id(9), 2, now);
    net.nodes[a].reg.connect(id(1), 3, now);
    net.settle();
    let answers = &net.nodes[a].answers;
    assert_eq!(answers[0], (1, Ok(Answer::Addr(net.nodes[b].addr))));
    assert_eq!(answers[1], (2, Err(LinkError::UnknownPeer(id(9)))));
    assert!(
        matches!(&answers[2], (3, Err(LinkError::Refused(why))) if why.contains("bad_request"))
    );
    let b_key = net.nodes[b].reg.status().key;
    assert_eq!(
        net.nodes[a].pinned,
        [(None, net.server_key), (Some(id(2)), b_key)][1..]
    );
    // B heard of A by INTRO, and pinned A's key.
    let a_key = net.nodes[a].reg.status().key;
    assert!(net.nodes[b].pinned.contains(&(Some(id(1)), a_key)));
    assert!(net.nodes[b].inbound.iter().any(
        |i| matches!(i, crate::peer::core::transport::Inbound::Intro { peer, .. } if *peer == id(1))
    ));
}

#[test]
fn a_pinned_peer_the_server_gives_another_key_for_is_refused_until_trusted() {
    let mut net = Net::new();
    let a = net.registered(1);
    let b = net.registered(2);
    let b_key = net.nodes[b].reg.status().key;
    // A pinned another key for id 2 earlier (or the server lies now).
    let earlier = PublicKey([5; 32]);
    net.nodes[a].reg.transport_mut().introduce(id(2), earlier);
    let now = net.now();
    net.nodes[a].reg.connect(id(2), 4, now);
    net.settle();
    let Some((4, Err(e @ LinkError::KeyChanged(_)))) = net.nodes[a].answers.last() else {
        panic!("{:?}", net.nodes[a].answers)
    };
    let text = e.to_string();
    assert!(
        text.contains(&earlier.fingerprint()) && text.contains(&b_key.fingerprint()),
        "{text}"
    );
    assert!(text.contains("peerctl trust 2"), "{text}");
    assert_eq!(net.nodes[a].reg.trust(id(2)), Some(b_key));
    assert_eq!(net.nodes[a].reg.trust(id(2)), None, "nothing more to trust");
    let now = net.now();
    net.nodes[a].reg.connect(id(2), 5, now);
    net.settle();
    assert_eq!(
        net.nodes[a].answers.last(),
        Some(&(5, Ok(Answer::Addr(net.nodes[b].addr))))
    );
}

#[test]
fn unauthorized_handshakes_again_and_asks_once_more() {
    let mut net = Net::new();
    let a = net.registered(1);
    net.registered(2);
    // Another daemon with the same key (a copied data directory) registers
    // and leaves: the server holds the id offline while A still has its
    // session.
    let twin = net.node_at(1, addr("10.0.9.9:4000"), true);
    // (A handshake with the same key at the same instant would be refused
    // as a replay: its timestamp would not be newer.)
    net.at(1_000);
    let now = net.now();
    net.nodes[twin].reg.start(now);
    net.settle();
    net.nodes[twin].reg.unregister(99, now);
    net.settle();
    let inits = |net: &Net| {
        net.wire
            .iter()
            .filter(|(f, _, b)| *f == net.nodes[a].addr && b[0] == ty::HANDSHAKE_INIT)
            .count()
    };
    assert_eq!(inits(&net), 1);
    net.at(2_000);
    let now = net.now();
    net.nodes[a].reg.list(1, now);
    net.settle();
    assert_eq!(inits(&net), 2, "unauthorized: handshook again");
    assert!(
        matches!(net.nodes[a].answers.last(), Some((1, Ok(Answer::Peers(p)))) if p.len() == 1),
        "{:?}",
        net.nodes[a].answers
    );
    assert_eq!(net.nodes[a].reg.status().state, RegState::Registered);
}

#[test]
fn a_server_that_stops_answering_requests_is_handshaken_again() {
    let mut net = Net::new();
    let a = net.registered(1);
    net.lose_to.insert(addr(SERVER));
    let now = net.now();
    net.nodes[a].reg.list(1, now);
    net.settle();
    net.at(7_749);
    assert!(net.nodes[a].answers.is_empty());
    net.at(7_750);
    assert!(
        matches!(&net.nodes[a].answers[..], [(1, Err(LinkError::NotRegistered(why)))] if why.contains("did not answer")),
        "{:?}",
        net.nodes[a].answers
    );
    assert!(matches!(net.nodes[a].link.last(), Some(Err(_))), "down");
    net.lose_to.clear();
    net.at(8_000);
    assert_eq!(
        net.nodes[a].reg.status().state,
        RegState::Registered,
        "a new handshake"
    );
}

#[test]
fn requests_wait_for_the_registration_and_fail_while_offline() {
    let mut net = Net::new();
    let a = net.node(1, true);
    let now = net.now();
    net.nodes[a].reg.list(1, now);
    net.nodes[a].reg.start(now);
    net.settle();
    assert!(
        matches!(net.nodes[a].answers[..], [(1, Ok(Answer::Peers(_)))]),
        "deferred, then asked"
    );
    let mut net = Net::new();
    net.lose_to.insert(addr(SERVER));
    let b = net.node(2, true);
    let now = net.now();
    net.nodes[b].reg.start(now);
    net.at(7_750);
    let now = net.now();
    net.nodes[b].reg.list(2, now);
    net.settle();
    assert!(matches!(
        &net.nodes[b].answers[..],
        [(2, Err(LinkError::NotRegistered(_)))]
    ));
}

#[test]
fn unregister_asks_the_server_once_and_stops_registering() {
    let mut net = Net::new();
    let a = net.registered(1);
    let now = net.now();
    net.nodes[a].reg.unregister(9, now);
    net.settle();
    assert_eq!(net.nodes[a].answers, [(9, Ok(Answer::Unregistered))]);
    let mark = net.wire.len();
    net.at(700_000);
    assert!(
        net.since(mark)
            .iter()
            .all(|(f, _, _)| *f != net.nodes[a].addr),
        "silent from then on"
    );
}

#[test]
fn a_server_presenting_another_key_is_refused_with_both_fingerprints() {
    let mut net = Net::new();
    let a = net.node(1, false);
    let wrong = PublicKey([3; 32]);
    net.nodes[a].reg.transport_mut().pin_server_key(wrong);
    let now = net.now();
    net.nodes[a].reg.start(now);
    net.at(7_750);
    let status = net.nodes[a].reg.status();
    assert_eq!(status.state, RegState::Offline);
    let reason = status.reason.unwrap_or_default();
    assert!(reason.contains(&net.server_key.fingerprint()), "{reason}");
    assert!(reason.contains(&wrong.fingerprint()), "{reason}");
    assert!(reason.contains("--server-key"), "{reason}");
    assert_eq!(status.server_key, Some(wrong), "never trusted");
}

#[test]
fn a_request_whose_reply_was_lost_is_answered_on_its_next_try() {
    let mut net = Net::new();
    let a = net.registered(1);
    net.registered(2);
    let a_addr = net.nodes[a].addr;
    let mark = net.wire.len();
    net.lose_to.insert(a_addr);
    let now = net.now();
    net.nodes[a].reg.list(7, now);
    net.settle();
    assert!(net.nodes[a].answers.is_empty(), "the first reply was lost");
    net.lose_to.clear();
    let start = net.ms;
    net.at(start + 250);
    assert!(
        matches!(net.nodes[a].answers.as_slice(), [(7, Ok(Answer::Peers(p)))] if p.len() == 1),
        "answered on the second try: {:?}",
        net.nodes[a].answers
    );
    let tries: Vec<&Vec<u8>> = net
        .since(mark)
        .iter()
        .filter(|(from, to, _)| *from == a_addr && *to == addr(SERVER))
        .map(|(_, _, bytes)| bytes)
        .collect();
    assert_eq!(tries.len(), 2, "two tries");
    assert_ne!(
        tries[0], tries[1],
        "each try is a new frame (a new counter): the server drops a replay"
    );
}
