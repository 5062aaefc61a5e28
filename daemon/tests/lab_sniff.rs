//! What a sniffer sees (docs/security.md, "What is protected"): every
//! frame on the server's interface and every frame crossing the lab's
//! public segment is captured with packet sockets while three daemons
//! behind NATs register (learning the server's key on first contact) and
//! exchange texts, a and b (two cones) directly, a and c (a cone and a
//! symmetric NAT, where punching cannot work) through the server's relay.
//!
//! The captures must hold no text and no part of one, no daemon's public
//! or private key, not the server's private key, and the server's public
//! key only where protocol.md puts it in the clear (KEY_REPLY); every
//! datagram of the daemons is a protocol v2 frame. The relayed texts went
//! through the server, encrypted end to end: they are neither on its wire
//! nor in its log nor anywhere in its memory. Positive controls show that
//! the same searches find plaintext where there is some: a protocol v1
//! JSON datagram carrying a marker, found in both captures, and the
//! server's own command line, found in its memory.

mod lab;
mod support;

use std::net::SocketAddrV4;
use std::path::Path;

use lab::{contains, lab_or_skip, Capture, Captured, Datagram, Kind, Lab, PeerDaemon};
use peerd_shared::control::PathKind;
use peerd_shared::proto::frame::ty;
use peerd_shared::proto::{PublicKey, MAX_DATAGRAM};
use support::{poll_for, DEADLINE};

/// Keepalive the server announces, seconds.
const KEEPALIVE: u64 = 5;
/// Texts each way on each path.
const COUNT: usize = 20;
/// Bytes a TRANSPORT frame adds to its payload (type, receiver, counter,
/// tag), and the fields of MESSAGE, RELAY and RELAYED before their data
/// (protocol.md 4, 5.2, 6).
const TRANSPORT: usize = 1 + 4 + 8 + 16;
const MESSAGE_FIELDS: usize = 1 + 8 + 8;
const RELAY_FIELDS: usize = 1 + 4 + 8;
const RELAYED_FIELDS: usize = 1 + 8;

fn daemon(lab: &Lab, host: &lab::Host, name: &str) -> PeerDaemon {
    PeerDaemon::start(host, lab.server_addr(), name, &[])
        .unwrap_or_else(|e| panic!("cannot start daemon {name}: {e}"))
}

/// 16 random lower-case hex digits.
fn token() -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("OS randomness");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The raw bytes of a key written as text (a key file holds 44 characters
/// of base64, the text form of public keys too).
fn key_file_bytes(path: &Path) -> [u8; 32] {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let key: PublicKey = text
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    key.0
}

/// The texts of one direction: the same length each, with the token.
fn texts(token: &str, what: &str) -> Vec<String> {
    (0..COUNT)
        .map(|i| format!("{token} {what} {i:03}"))
        .collect()
}

/// Sends `texts` from `from` to `to`: the first waiting for its delivery
/// (which must take `path`), the rest queued; then waits until all arrived.
fn exchange(from: &PeerDaemon, to: &PeerDaemon, texts: &[String], path: PathKind) {
    let (idf, idt) = (from.id().expect("id"), to.id().expect("id"));
    let first = from.send(idt, &texts[0], true).expect("first text");
    assert_eq!(
        first.path,
        Some(path),
        "{} -> {}: {first:?}",
        from.name(),
        to.name()
    );
    for t in &texts[1..] {
        from.send(idt, t, false).expect("queued");
    }
    let got = to
        .wait_inbox(idf, texts.len(), DEADLINE)
        .expect("every text arrives");
    assert!(got.iter().all(|m| m.path == path), "{got:?}");
}

/// The public address `daemon` registered from.
fn public(daemon: &PeerDaemon) -> SocketAddrV4 {
    let addr = daemon
        .status()
        .expect("status")
        .public_addr
        .expect("registered");
    addr.parse().expect("an IPv4 address")
}

/// Datagrams from `src` to `dst` whose payload is `len` bytes long.
fn sized(all: &[Datagram], src: SocketAddrV4, dst: SocketAddrV4, len: usize) -> usize {
    all.iter()
        .filter(|d| d.src == src && d.dst == dst && d.payload.len() == len)
        .count()
}

/// Asserts that no frame of `cap` contains any of `needles` (named).
fn assert_absent(cap: &Captured, what: &str, needles: &[(String, Vec<u8>)]) {
    for (name, needle) in needles {
        let hits = cap.containing(needle);
        assert!(
            hits.is_empty(),
            "{what}: {name} in clear in {} frames, e.g. {:02x?}",
            hits.len(),
            hits[0].bytes
        );
    }
}

#[test]
fn a_sniffer_sees_no_text_and_no_key_the_server_sees_no_relayed_text() {
    let name = "a_sniffer_sees_no_text_and_no_key_the_server_sees_no_relayed_text";
    let Some(lab) = lab_or_skip(name) else {
        return;
    };
    let server = lab.start_server(Some(KEEPALIVE)).expect("peerd server");
    let server_v4 = SocketAddrV4::new(lab::SERVER_IP, server.port());
    let at_server = Capture::start(lab.server_host().ns(), Some("wan")).expect("capture");
    let on_segment = Capture::start(lab.core(), None).expect("capture");

    let (ha, hb, hc) = (
        lab.add_host(Kind::Cone).expect("a"),
        lab.add_host(Kind::Cone).expect("b"),
        lab.add_host(Kind::Symmetric).expect("c"),
    );
    let (da, db, dc) = (
        daemon(&lab, &ha, "a"),
        daemon(&lab, &hb, "b"),
        daemon(&lab, &hc, "c"),
    );
    let secret = token();
    let (ab, ba) = (texts(&secret, "direct a->b"), texts(&secret, "direct b->a"));
    let (ac, ca) = (
        texts(&secret, "relayed a->c"),
        texts(&secret, "relayed c->a"),
    );
    exchange(&da, &db, &ab, PathKind::Direct);
    exchange(&db, &da, &ba, PathKind::Direct);
    exchange(&da, &dc, &ac, PathKind::Relayed);
    exchange(&dc, &da, &ca, PathKind::Relayed);

    // Positive control: plaintext on the wire is found. A public host
    // sends the server a protocol v1 datagram carrying a marker; the
    // server answers `unsupported_version`, in clear too.
    let marker = format!("control-{}", token());
    let hp = lab.add_host(Kind::Public).expect("p");
    let probe = hp.bind_udp(0).expect("bind");
    let probe_addr = SocketAddrV4::new(hp.ip(), probe.local_addr().expect("addr").port());
    // (Padded: the server answers only when its answer is not longer.)
    let pad = "-".repeat(100);
    let v1 = format!(r#"{{"v":1,"type":"REGISTER","seq":7,"token":"{marker}","pad":"{pad}"}}"#);
    probe.send_to(v1.as_bytes(), server).expect("send");
    let answer = lab::recv_matching(&probe, DEADLINE, |buf, src| {
        (src == server).then(|| String::from_utf8_lossy(buf).into_owned())
    })
    .expect("the v1 answer");
    assert!(answer.contains("unsupported_version"), "{answer}");

    // The texts went where they should: relayed ones through the server
    // (RELAY from the sender, RELAYED to the receiver, each carrying a
    // MESSAGE frame of the peers' session), direct ones between the two
    // routers. Everything sent has arrived; wait until the captures have
    // read all of it, and the control, then stop them.
    let (pa, pc) = (public(&da), public(&dc));
    let b_at_a = da
        .path_to(db.id().expect("id"))
        .expect("peers")
        .expect("listed");
    let pb: SocketAddrV4 = b_at_a.addr.expect("direct").parse().expect("IPv4");
    assert_eq!(pb, public(&db), "b is reached at its public address");
    let relay_len = |t: &str| TRANSPORT + RELAY_FIELDS + TRANSPORT + MESSAGE_FIELDS + t.len();
    let relayed_len = |t: &str| TRANSPORT + RELAYED_FIELDS + TRANSPORT + MESSAGE_FIELDS + t.len();
    let message_len = TRANSPORT + MESSAGE_FIELDS + ab[0].len();
    // RELAY and RELAYED of a text's size each way at the server; direct
    // MESSAGE frames a -> b on the segment (counted where they enter the
    // bridge).
    let flows = |server: &[Datagram], segment: &[Datagram]| -> [usize; 5] {
        let entering: Vec<Datagram> = segment.iter().filter(|d| !d.outgoing).cloned().collect();
        [
            sized(server, pa, server_v4, relay_len(&ac[0])),
            sized(server, server_v4, pc, relayed_len(&ac[0])),
            sized(server, pc, server_v4, relay_len(&ca[0])),
            sized(server, server_v4, pa, relayed_len(&ca[0])),
            sized(&entering, pa, pb, message_len),
        ]
    };
    let holds_marker = |cap: &Capture| {
        cap.frames()
            .iter()
            .any(|f| contains(&f.bytes, marker.as_bytes()))
    };
    poll_for("the captures to hold every text's frame", DEADLINE, || {
        let counts = flows(&at_server.datagrams(), &on_segment.datagrams());
        let done = counts.iter().all(|&n| n >= COUNT);
        (done && holds_marker(&at_server) && holds_marker(&on_segment)).then_some(())
    });
    let at_server = at_server.stop().expect("capture at the server");
    let on_segment = on_segment.stop().expect("capture on the segment");
    let counts = flows(&at_server.datagrams(), &on_segment.datagrams());
    eprintln!(
        "captured {} frames ({} bytes) at the server, {} frames ({} bytes) on the segment; \
         dropped {} and {}; RELAY/RELAYED a -> c {}/{}, c -> a {}/{}; direct a -> b {}",
        at_server.frames.len(),
        at_server.bytes(),
        on_segment.frames.len(),
        on_segment.bytes(),
        at_server.dropped,
        on_segment.dropped,
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[4]
    );
    assert_eq!(
        (at_server.dropped, on_segment.dropped),
        (0, 0),
        "the captures missed frames"
    );
    let segment: Vec<Datagram> = on_segment
        .datagrams()
        .into_iter()
        .filter(|d| !d.outgoing)
        .collect();

    // No text, nor its token, in clear anywhere.
    let mut needles: Vec<(String, Vec<u8>)> =
        vec![("the texts' token".into(), secret.clone().into())];
    for t in ab.iter().chain(&ba).chain(&ac).chain(&ca) {
        needles.push((format!("text {t:?}"), t.clone().into_bytes()));
    }
    // No daemon key, public or private, raw or as text; not the server's
    // private key.
    for d in [&da, &db, &dc] {
        let key: PublicKey = d
            .status()
            .expect("status")
            .key
            .expect("own key")
            .parse()
            .expect("a key");
        let private = key_file_bytes(&d.data_dir().join("identity.key"));
        needles.push((format!("{}'s public key", d.name()), key.0.to_vec()));
        needles.push((
            format!("{}'s public key text", d.name()),
            key.to_base64().into(),
        ));
        needles.push((format!("{}'s private key", d.name()), private.to_vec()));
        let text = PublicKey(private).to_base64();
        needles.push((format!("{}'s private key text", d.name()), text.into()));
    }
    let server_private = key_file_bytes(&lab.server_dir().join("server.key"));
    needles.push(("the server's private key".into(), server_private.to_vec()));
    let server_key = lab.server_key().expect("server key");
    needles.push((
        "the server's key text".into(),
        server_key.to_base64().into(),
    ));
    assert_absent(&at_server, "at the server", &needles);
    assert_absent(&on_segment, "on the segment", &needles);

    // The server's public key is in clear only in KEY_REPLY (protocol.md
    // 3.5), which each daemon asked for: it had no key configured.
    for (cap, what) in [
        (&at_server, "at the server"),
        (&on_segment, "on the segment"),
    ] {
        let replies = cap.containing(&server_key.0);
        for frame in &replies {
            let d = frame.udp().expect("a UDP datagram");
            assert!(
                d.src == server_v4
                    && d.payload[0] == ty::KEY_REPLY
                    && d.payload[2..] == server_key.0,
                "{what}: the server's key outside a KEY_REPLY: {d:02x?}"
            );
        }
        assert!(replies.len() >= 3, "{what}: {} KEY_REPLYs", replies.len());
    }

    // Every datagram of the daemons is a protocol v2 frame of at most
    // MAX_DATAGRAM bytes: to and from the server any of them, between
    // peers handshakes and TRANSPORT.
    let peer_frames = [ty::HANDSHAKE_INIT, ty::HANDSHAKE_RESP, ty::TRANSPORT];
    let server_frames = ty::HANDSHAKE_INIT..=ty::KEY_REPLY;
    for d in &segment {
        if d.src == probe_addr || d.dst == probe_addr {
            continue; // the control
        }
        let first = d.payload.first().copied().unwrap_or(0);
        let ok = if d.src == server_v4 || d.dst == server_v4 {
            server_frames.contains(&first)
        } else {
            peer_frames.contains(&first)
        };
        assert!(ok, "not a protocol v2 frame: {d:02x?}");
        assert!(d.payload.len() <= MAX_DATAGRAM, "oversized: {d:02x?}");
    }

    // The server relayed the texts without reading them: they are not in
    // its log, nor anywhere in its memory, which does hold its own
    // command line (the scan works).
    let log = lab.server_log().join("\n");
    assert!(!log.contains(&secret), "a text in the server's log");
    let pid = lab.server_pid().expect("the server runs");
    let db_path = lab.server_dir().join("server.db");
    let db_path = db_path.to_string_lossy().into_owned();
    let scan = lab::scan_memory(pid, &[secret.as_bytes(), db_path.as_bytes()]).expect("scan");
    eprintln!(
        "server memory: {} MiB scanned ({} mappings unreadable): token {}, command line {}",
        scan.bytes >> 20,
        scan.unreadable,
        scan.found[0],
        scan.found[1]
    );
    assert!(scan.found[1], "the scan finds the server's command line");
    assert!(
        !scan.found[0],
        "a relayed text in clear in the server's memory"
    );
}
