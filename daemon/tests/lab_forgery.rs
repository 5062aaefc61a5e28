//! Forged and replayed datagrams cannot move a path (docs/security.md,
//! "Paths follow authentication"; protocol.md 6). Under protocol v1 one
//! forged PUNCH from the peer's public IP address stole a direct path;
//! this test mounts that attack and its protocol v2 forms in the lab.
//!
//! a sits behind a cone router, b on the public segment (so nothing
//! filters what reaches it), and the attacker m behind a's router: its
//! datagrams to b leave from a's public IP address, the address b holds
//! for a. Once a and b have a direct path, m (from its own machine, and
//! from a second socket on a's machine) sends b, and sends a over the
//! home network as if from b:
//!
//! - protocol v1 PUNCH and PUNCH_ACK datagrams naming a and b;
//! - HELLO handshakes claiming to come from the other peer, made with m's
//!   own key (m knows both public keys), and copies whose Noise message is
//!   corrupted under a correct `mac1`;
//! - every datagram that a and b exchanged so far (captured on their
//!   interfaces: more than an attacker on another machine could see),
//!   replayed as is, with their counter moved ahead, and with a byte of
//!   ciphertext flipped;
//! - the same replays through the server's relay, from m registered as a
//!   peer of its own.
//!
//! Meanwhile and afterwards a and b keep exchanging texts: every text
//! arrives exactly once from the real address, `peerctl peers` keeps the
//! real address on both sides, and nothing a or b sent went to an
//! attacker except the handshake answers protocol.md allows for a
//! replayed HELLO whose timestamp was never accepted (they prove nothing
//! and create no path).

mod lab;
mod support;

use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::time::Duration;

use lab::{lab_or_skip, Capture, Datagram, Kind, Lab, PeerDaemon};
use peerd_shared::control::{PathKind, PathWord, PeerPathInfo};
use peerd_shared::proto::crypto::{mac, MAC_LEN};
use peerd_shared::proto::frame::ty;
use peerd_shared::proto::handshake::mac1_key;
use peerd_shared::proto::{Body, Identity, InitPayload, Initiator, PublicKey, SecretKey};
use peerd_shared::PeerId;
use serde_json::Value;
use support::{poll_for, Peer, Req, DEADLINE};

const KEEPALIVE: u64 = 5;
/// Rounds of the attack; texts each way are sent between them.
const ROUNDS: usize = 3;

fn daemon(lab: &Lab, host: &lab::Host, name: &str) -> PeerDaemon {
    PeerDaemon::start(host, lab.server_addr(), name, &[])
        .unwrap_or_else(|e| panic!("cannot start daemon {name}: {e}"))
}

/// The `peerctl --json peers` entry of `peer` on `daemon` (the real CLI).
fn peers_entry(daemon: &PeerDaemon, peer: PeerId) -> PeerPathInfo {
    let out = daemon
        .peerctl_out(&["--json", "peers"])
        .expect("peerctl peers");
    let json: Value = serde_json::from_str(out.trim()).expect("JSON");
    let list = json
        .get("peers")
        .unwrap_or(&json)
        .as_array()
        .expect("a list");
    let entry = list
        .iter()
        .find(|e| e.get("id").and_then(Value::as_u64) == Some(peer.get()))
        .unwrap_or_else(|| panic!("{peer} not listed: {out}"));
    serde_json::from_value(entry.clone()).expect("a peers entry")
}

/// Asserts both sides report the direct path at the real addresses.
fn assert_paths(da: &PeerDaemon, db: &PeerDaemon, a_at_b: &str, b_at_a: &str, when: &str) {
    let (ida, idb) = (da.id().expect("id"), db.id().expect("id"));
    let at_b = peers_entry(db, ida);
    let at_a = peers_entry(da, idb);
    assert_eq!(
        (at_b.path, at_b.addr.as_deref()),
        (PathWord::Direct, Some(a_at_b)),
        "{when}: b's path to a: {at_b:?}"
    );
    assert_eq!(
        (at_a.path, at_a.addr.as_deref()),
        (PathWord::Direct, Some(b_at_a)),
        "{when}: a's path to b: {at_a:?}"
    );
}

/// The key in a daemon's `status`.
fn key_of(d: &PeerDaemon) -> PublicKey {
    d.status()
        .expect("status")
        .key
        .expect("own key")
        .parse()
        .expect("a key")
}

/// What the attacker sends one victim: a HELLO made with its own key in
/// the name of `claimed`, the same with its Noise message corrupted under
/// a correct `mac1`, v1 PUNCH datagrams, and every captured datagram
/// `replays` replayed, with its counter moved ahead, and with a flipped
/// byte.
fn forgeries(
    attacker: &Identity,
    victim_key: &PublicKey,
    claimed: PeerId,
    victim: PeerId,
    replays: &[Vec<u8>],
) -> Vec<Vec<u8>> {
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos() as u64;
    let hello = InitPayload::Hello {
        timestamp,
        from: claimed,
    };
    let (init, _) = Initiator::start(attacker, victim_key, 7, &hello, None, None).expect("a HELLO");
    let mut corrupt = init.clone();
    let m1 = corrupt.len() - 2 * MAC_LEN;
    corrupt[40] ^= 0x01; // in the encrypted static key (bytes 37 .. 85)
    let mac1 = mac(&mac1_key(victim_key), &corrupt[..m1]);
    corrupt[m1..m1 + MAC_LEN].copy_from_slice(&mac1);
    let (c, v) = (claimed.get(), victim.get());
    let mut out = vec![
        init,
        corrupt,
        format!(r#"{{"v":1,"type":"PUNCH","from":{c},"to":{v},"nonce":1}}"#).into_bytes(),
        format!(r#"{{"v":1,"type":"PUNCH_ACK","from":{c},"to":{v},"nonce":1}}"#).into_bytes(),
    ];
    for frame in replays {
        out.push(frame.clone());
        if frame.first() == Some(&ty::TRANSPORT) && frame.len() > 13 {
            let mut ahead = frame.clone();
            let counter = u64::from_be_bytes(frame[5..13].try_into().expect("8 bytes"));
            ahead[5..13].copy_from_slice(&(counter + (1 << 20)).to_be_bytes());
            out.push(ahead);
        }
        let mut flipped = frame.clone();
        if let Some(last) = flipped.last_mut() {
            *last ^= 0x80;
        }
        out.push(flipped);
    }
    out
}

/// The payloads of the datagrams in `all` that arrived from `src` at `dst`.
fn arrived(all: &[Datagram], src: SocketAddrV4, dst: SocketAddrV4) -> Vec<Vec<u8>> {
    all.iter()
        .filter(|d| !d.outgoing && d.src == src && d.dst == dst)
        .map(|d| d.payload.clone())
        .collect()
}

fn v4(addr: &str) -> SocketAddrV4 {
    addr.parse().unwrap_or_else(|e| panic!("{addr}: {e}"))
}

fn send_all(sock: &UdpSocket, to: SocketAddr, datagrams: &[Vec<u8>]) {
    for d in datagrams {
        sock.send_to(d, to).expect("send a forgery");
    }
}

#[test]
fn an_attacker_behind_the_same_nat_cannot_move_a_direct_path() {
    let name = "an_attacker_behind_the_same_nat_cannot_move_a_direct_path";
    let Some(lab) = lab_or_skip(name) else {
        return;
    };
    let server = lab.start_server(Some(KEEPALIVE)).expect("peerd server");
    let ha = lab.add_host(Kind::Cone).expect("a");
    let router = ha.router().expect("router").clone();
    let hm = lab.add_host_behind(&router).expect("m, behind a's router");
    let hb = lab.add_host(Kind::Public).expect("b");
    let at_a = Capture::start(ha.ns(), Some("eth0")).expect("capture at a");
    let at_b = Capture::start(hb.ns(), Some("wan")).expect("capture at b");
    let (da, db) = (daemon(&lab, &ha, "a"), daemon(&lab, &hb, "b"));
    let (ida, idb) = (da.id().expect("id a"), db.id().expect("id b"));
    let (key_a, key_b) = (key_of(&da), key_of(&db));

    // A direct path, used both ways (HELLO handshakes, then MESSAGE,
    // MESSAGE_ACK, PROBE and PROBE_ACK frames).
    for (from, to) in [(&da, idb), (&db, ida)] {
        for i in 0..3 {
            let out = from.send(to, &format!("warm-up {i}"), true).expect("send");
            assert_eq!(out.path, Some(PathKind::Direct), "{out:?}");
        }
        from.ping(to).expect("ping");
    }
    let a_at_b = peers_entry(&db, ida).addr.expect("b's path to a");
    let b_at_a = peers_entry(&da, idb).addr.expect("a's path to b");
    assert_paths(&da, &db, &a_at_b, &b_at_a, "before the attack");
    let local_a = da.status().expect("status").local_addr;
    let a_private = SocketAddrV4::new(ha.ip(), v4(&local_a).port());
    let (a_public, b_public) = (v4(&a_at_b), v4(&b_at_a));
    assert_eq!(*a_public.ip(), router.wan_ip());

    // What a and b exchanged so far, as the attacker is given it: once the
    // captures hold handshakes and TRANSPORT frames both ways.
    let exchanged = |cap: &Capture, src, dst| {
        poll_for(
            "handshakes and TRANSPORT frames in a capture",
            DEADLINE,
            || {
                let frames = arrived(&cap.datagrams(), src, dst);
                let has = |t: u8| frames.iter().any(|f| f[0] == t);
                let both =
                    has(ty::TRANSPORT) && (has(ty::HANDSHAKE_INIT) || has(ty::HANDSHAKE_RESP));
                both.then_some(frames)
            },
        )
    };
    let to_b = exchanged(&at_b, a_public, b_public);
    let to_a = exchanged(&at_a, b_public, a_private);
    let m_identity = Identity::new(SecretKey::generate().expect("a key"));
    let against_b = forgeries(&m_identity, &key_b, ida, idb, &to_b);
    let against_a = forgeries(&m_identity, &key_a, idb, ida, &to_a);
    // m behind a's router, and a second socket on a's own machine: both
    // reach b from a's public IP address. m also reaches a directly on
    // the home network.
    let m_nat = hm.bind_udp(0).expect("bind");
    let m_local = ha.bind_udp(0).expect("bind");
    let m_lan = hm.bind_udp(0).expect("bind");
    // And m as a registered peer, relaying the same through the server.
    let key = lab.server_key().expect("server key");
    let mut m_peer: Peer = lab::join(hm.bind_udp(0).expect("bind"), server, key);
    let kinds = |frames: &[Vec<u8>]| -> Vec<(u8, usize)> {
        let mut k: std::collections::BTreeMap<u8, usize> = Default::default();
        for f in frames {
            *k.entry(f[0]).or_default() += 1;
        }
        k.into_iter().collect()
    };
    eprintln!(
        "attack: {} datagrams at b, {} at a, per round and socket; replayed to b \
         (frame type, count) {:02x?}, to a {:02x?}",
        against_b.len(),
        against_a.len(),
        kinds(&to_b),
        kinds(&to_a)
    );

    for round in 0..ROUNDS {
        send_all(&m_nat, SocketAddr::V4(b_public), &against_b);
        send_all(&m_local, SocketAddr::V4(b_public), &against_b);
        send_all(&m_lan, SocketAddr::V4(a_private), &against_a);
        for data in against_b.iter().filter(|d| d[0] != b'{') {
            let reply = m_peer.call(Req::Relay(idb, data));
            assert!(
                matches!(reply.body(), Body::RelayAck { .. }),
                "the server relays m's frames to b: {:?}",
                reply.body()
            );
        }
        da.send(idb, &format!("a->b {round}"), false)
            .expect("queued");
        db.send(ida, &format!("b->a {round}"), false)
            .expect("queued");
        assert_paths(&da, &db, &a_at_b, &b_at_a, "during the attack");
    }

    // Texts keep arriving, exactly once, from the real addresses.
    let last_ab = da.send(idb, "a->b last", true).expect("send");
    let last_ba = db.send(ida, "b->a last", true).expect("send");
    assert_eq!(
        (last_ab.path, last_ba.path),
        (Some(PathKind::Direct), Some(PathKind::Direct))
    );
    for (d, from, at, prefix) in [(&db, ida, &a_at_b, "a->b"), (&da, idb, &b_at_a, "b->a")] {
        let got: Vec<_> = d
            .wait_inbox(from, 3 + ROUNDS + 1, DEADLINE)
            .expect("every text arrives")
            .into_iter()
            .filter(|m| !m.text.starts_with("warm-up"))
            .collect();
        let texts: Vec<&str> = got.iter().map(|m| m.text.as_str()).collect();
        let mut want: Vec<String> = (0..ROUNDS).map(|r| format!("{prefix} {r}")).collect();
        want.push(format!("{prefix} last"));
        for w in &want {
            assert_eq!(
                texts.iter().filter(|t| *t == w).count(),
                1,
                "{w}: {texts:?}"
            );
        }
        assert_eq!(texts.len(), ROUNDS + 1, "nothing else stored: {texts:?}");
        for m in &got {
            assert_eq!(
                (m.path, m.addr.as_str()),
                (PathKind::Direct, at.as_str()),
                "{m:?}"
            );
        }
    }
    assert_paths(&da, &db, &a_at_b, &b_at_a, "after the attack");

    // Nothing came back to the attacker through the relay.
    m_peer.expect_nothing(Duration::from_millis(500));

    // The forgeries reached a and b (the captures saw every one arrive),
    // and a and b sent the attacker nothing but answers to replayed HELLOs.
    let server_v4 = SocketAddrV4::new(lab::SERVER_IP, server.port());
    let forged = |all: &[Datagram], me: SocketAddrV4, peer: SocketAddrV4| {
        all.iter()
            .filter(|d| !d.outgoing && d.dst == me && d.src != peer && d.src != server_v4)
            .count()
    };
    let expected_at_b = 2 * ROUNDS * against_b.len();
    let expected_at_a = ROUNDS * against_a.len();
    poll_for("the captures to hold every forgery", DEADLINE, || {
        let b_done = forged(&at_b.datagrams(), b_public, a_public) >= expected_at_b;
        let a_done = forged(&at_a.datagrams(), a_private, b_public) >= expected_at_a;
        (a_done && b_done).then_some(())
    });
    let (at_a, at_b) = (at_a.stop().expect("capture"), at_b.stop().expect("capture"));
    assert_eq!(
        (at_a.dropped, at_b.dropped),
        (0, 0),
        "the captures missed frames"
    );
    for (cap, me, peer, expected, what) in [
        (&at_b, b_public, a_public, expected_at_b, "b"),
        (&at_a, a_private, b_public, expected_at_a, "a"),
    ] {
        let all = cap.datagrams();
        let forged = forged(&all, me, peer);
        let answers: Vec<&Datagram> = all
            .iter()
            .filter(|d| d.outgoing && d.src == me && d.dst != peer && d.dst != server_v4)
            .collect();
        eprintln!(
            "{what}: {forged} forged datagrams arrived; {} answered (handshake answers)",
            answers.len()
        );
        assert_eq!(forged, expected, "{what}: every forgery arrived");
        for d in &answers {
            assert_eq!(
                d.payload[0],
                ty::HANDSHAKE_RESP,
                "{what} sent an attacker more than a handshake answer: {d:02x?}"
            );
        }
    }
}
