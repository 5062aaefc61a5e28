//! Rate limiting per source ip:port (`--rate-limit`, `--rate-burst`) and the
//! global cap (`--global-rate-limit`): excess JSON gets `rate_limited`
//! (with its seq; a few notices, then silence), excess STUN is dropped,
//! other sources behind the same IP are unaffected, service resumes.

mod support;

use std::time::Duration;

use peerd_shared::wire::{self, ErrorCode, Packet};
use peerd_shared::Seq;
use support::*;

const QUIET: Duration = Duration::from_millis(300);

/// Counts (served, rate_limited) answers until the socket goes quiet.
fn tally(c: &Client) -> (usize, usize) {
    let (mut served, mut limited) = (0, 0);
    for bytes in c.recv_burst(QUIET) {
        match wire::decode(&bytes) {
            Ok(Packet::Error {
                code: ErrorCode::RateLimited,
                seq,
                ..
            }) => {
                assert_eq!(seq, Seq(3), "rate_limited echoes the seq");
                limited += 1;
            }
            Ok(Packet::Error {
                code: ErrorCode::UnknownType,
                ..
            }) => served += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    (served, limited)
}

const PROBE: &[u8] = br#"{"v":1,"type":"NOPE","seq":3}"#;

#[test]
fn per_source_limit_answers_rate_limited_and_recovers() {
    let server = Server::fresh(&["--rate-limit", "20", "--rate-burst", "20"]);
    let noisy = server.client();
    for _ in 0..200 {
        noisy.send(PROBE);
    }
    let (served, limited) = tally(&noisy);
    assert!(
        (20..=40).contains(&served),
        "served {served} of 200 with a burst of 20"
    );
    assert!(limited >= 1, "no rate_limited answer");
    assert!(
        served + limited < 100,
        "a flood is mostly dropped: {served} + {limited}"
    );

    // Another port on the same IP has its own budget.
    let neighbour = server.client();
    neighbour.send(PROBE);
    assert_eq!(code_of(&neighbour.recv()), ErrorCode::UnknownType);

    // The noisy source is served again once its bucket refills.
    poll("the noisy source to be served again", || {
        noisy.send(PROBE);
        let reply = wire::decode(&noisy.recv_within(QUIET)?).ok()?;
        (code_of(&reply) == ErrorCode::UnknownType).then_some(())
    });
}

#[test]
fn global_cap_limits_all_sources_together() {
    let server = Server::fresh(&["--rate-limit", "0", "--global-rate-limit", "50"]);
    let clients: Vec<Client> = (0..5).map(|_| server.client()).collect();
    for _ in 0..40 {
        for c in &clients {
            c.send(PROBE);
        }
    }
    let (mut served, mut limited) = (0, 0);
    for c in &clients {
        let (s, l) = tally(c);
        served += s;
        limited += l;
    }
    assert!(
        (50..=100).contains(&served),
        "served {served} of 200 under a global cap of 50/s"
    );
    assert!(limited >= 1);
}

#[test]
fn excess_stun_is_dropped() {
    let server = Server::fresh(&["--rate-limit", "10", "--rate-burst", "10"]);
    let c = server.client();
    for i in 0..100u8 {
        c.send(&peerd_shared::stun::binding_request([i; 12]));
    }
    let mut answers = 0;
    for bytes in c.recv_burst(QUIET) {
        peerd_shared::stun::parse_binding_response(&bytes).expect("only STUN answers");
        answers += 1;
    }
    assert!(
        (10..=30).contains(&answers),
        "{answers} STUN answers with a burst of 10"
    );
}

#[test]
fn rate_limit_zero_turns_it_off() {
    let server = Server::fresh(&["--rate-limit", "0", "--global-rate-limit", "0"]);
    let c = server.client();
    let mut got = 0;
    for _ in 0..10 {
        for _ in 0..100 {
            c.send(PROBE);
        }
        got += tally(&c).0;
    }
    assert_eq!(got, 1000);
}
