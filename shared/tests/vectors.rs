//! The test vectors of protocol v2 (`docs/protocol-v2-vectors.json`): every
//! frame is rebuilt from the fixed inputs (keys, ephemeral keys, indices,
//! timestamps, counters, the cookie secret and nonce) and must equal the
//! stored bytes exactly; every frame is then read back and decrypted.
//!
//! `PEERD_WRITE_VECTORS=1 cargo test -p peerd-shared --test vectors`
//! rewrites the file (only when the protocol changes on purpose).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use peerd_shared::proto::cookie::{open_reply, CookieGuard};
use peerd_shared::proto::frame::{key_reply, key_request, Frame};
use peerd_shared::proto::handshake::{accept, respond_with_ephemeral, Identity, Initiator};
use peerd_shared::proto::{
    Body, ErrorCode, InitPayload, PublicKey, RespPayload, SecretKey, Session, SessionKeys,
};
use peerd_shared::{MsgId, PeerId, Seq};
use serde_json::{json, Value};

fn file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol-v2-vectors.json")
}

fn key(byte: u8) -> [u8; 32] {
    // Distinct, recognisable fixed keys: 32 bytes counting up from `byte`.
    std::array::from_fn(|i| byte.wrapping_add(i as u8))
}

fn id(n: u64) -> PeerId {
    PeerId::new(n).unwrap()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The vectors: what is fixed (`inputs`) and what results (`outputs`).
#[derive(Default)]
struct Out {
    inputs: BTreeMap<String, Value>,
    outputs: BTreeMap<String, String>,
}

impl Out {
    fn put(&mut self, name: &str, bytes: &[u8]) {
        self.outputs.insert(name.to_owned(), hex::encode(bytes));
    }
    fn text(&mut self, name: &str, s: &str) {
        self.outputs.insert(name.to_owned(), s.to_owned());
    }
    fn input(&mut self, name: &str, value: Value) {
        self.inputs.insert(name.to_owned(), value);
    }
}

fn body(b: &Body<'_>) -> Vec<u8> {
    let mut v = Vec::new();
    b.encode(&mut v);
    v
}

/// Seals `b` on `s` (the session of handshake `session`, from `sender`
/// to `receiver`), recording the frame's inputs and its bytes under `name`.
fn seal<const W: usize>(
    out: &mut Out,
    (sender, receiver, session): (&str, &str, &str),
    s: &mut Session<W>,
    name: &str,
    b: &Body<'_>,
) {
    let plain = body(b);
    let inputs = json!({
        "sender": sender,
        "receiver": receiver,
        "session": session,
        "counter": s.sent(),
        "payload": hex::encode(&plain),
    });
    out.input(name, inputs);
    let mut frame = Vec::new();
    s.seal(&plain, &mut frame).unwrap();
    out.put(name, &frame);
}

/// Builds every vector.
fn build() -> Out {
    let mut out = Out::default();
    let server = Identity::new(SecretKey::from_bytes(key(0x10)));
    let a = Identity::new(SecretKey::from_bytes(key(0x40)));
    let b = Identity::new(SecretKey::from_bytes(key(0x70)));
    for (name, ident, k) in [
        ("server", &server, 0x10),
        ("peer_a", &a, 0x40),
        ("peer_b", &b, 0x70),
    ] {
        out.input(&format!("{name}.private"), json!(hex::encode(key(k))));
        out.put(&format!("{name}.public"), &ident.public.0);
        out.text(&format!("{name}.public_base64"), &ident.public.to_base64());
        out.text(&format!("{name}.fingerprint"), &ident.public.fingerprint());
    }
    out.put("key_request", &key_request());
    out.put("key_reply", &key_reply(&server.public));

    // A registers with the server: REGISTER, REGISTERED.
    let ts = 1_795_000_000_000_000_000u64;
    let (e_a, e_s) = (key(0xA0), key(0xC0));
    out.input(
        "register",
        json!({
            "initiator": "peer_a",
            "responder": "server",
            "initiator_ephemeral": hex::encode(e_a),
            "responder_ephemeral": hex::encode(e_s),
            "initiator_index": 0x0102_0304u32,
            "responder_index": 0x0A0B_0C0Du32,
            "timestamp": ts,
            "registered": { "id": 1, "keepalive": 25, "addr": "198.51.100.7:40000" },
        }),
    );
    let reg = InitPayload::Register { timestamp: ts };
    let (init, initiator) =
        Initiator::start(&a, &server.public, 0x0102_0304, &reg, None, Some(&e_a)).unwrap();
    out.put("register.init", &init);
    let Ok(Frame::Init(init_frame)) = Frame::parse(&init) else {
        panic!("init does not parse")
    };
    let registered = RespPayload::Registered {
        id: id(1),
        keepalive: 25,
        addr: addr("198.51.100.7:40000"),
    };
    let (resp, s_keys, seen) =
        respond_with_ephemeral(&server, &init_frame, 0x0A0B_0C0D, &registered, &e_s).unwrap();
    assert_eq!(seen.initiator, a.public);
    assert_eq!(seen.payload, reg);
    out.put("register.resp", &resp);
    let Ok(Frame::Resp(resp_frame)) = Frame::parse(&resp) else {
        panic!("resp does not parse")
    };
    let (a_keys, payload) = initiator.finish(&a, &resp_frame).unwrap();
    assert_eq!(payload, registered);
    assert_eq!(a_keys.send, s_keys.recv);
    out.put("register.key_initiator_to_responder", &a_keys.send);
    out.put("register.key_responder_to_initiator", &a_keys.recv);

    // Under load: a COOKIE_REPLY to that INIT, then a new INIT with mac2.
    let src = addr("198.51.100.7:40000");
    let guard = CookieGuard::new(&server.public, key(0xE0), Instant::now());
    let nonce: [u8; 24] = std::array::from_fn(|i| 0x30 + i as u8);
    out.input(
        "cookie",
        json!({
            "secret": hex::encode(key(0xE0)),
            "nonce": hex::encode(nonce),
            "source": src.to_string(),
            "answers": "register",
            "init_ephemeral": hex::encode(key(0xA1)),
            "init_index": 0x0102_0305u32,
            "init_timestamp": ts + 1,
        }),
    );
    let reply = guard.reply(src, &init_frame, nonce);
    out.put("cookie.reply", &reply);
    let Ok(Frame::Cookie(cookie_frame)) = Frame::parse(&reply) else {
        panic!("cookie reply does not parse")
    };
    let cookie = open_reply(&server.public, &cookie_frame, &init_frame.mac1).unwrap();
    out.put("cookie.value", &cookie);
    let reg2 = InitPayload::Register { timestamp: ts + 1 };
    let (init2, _) = Initiator::start(
        &a,
        &server.public,
        0x0102_0305,
        &reg2,
        Some(&cookie),
        Some(&key(0xA1)),
    )
    .unwrap();
    out.put("cookie.init_with_mac2", &init2);
    let Ok(Frame::Init(init2_frame)) = Frame::parse(&init2) else {
        panic!("init2 does not parse")
    };
    assert!(guard.mac2_ok(src, &init2_frame));
    assert!(!guard.mac2_ok(addr("198.51.100.7:40001"), &init2_frame));

    // A and B: HELLO, HELLO_ACK.
    let hello = InitPayload::Hello {
        timestamp: ts + 2,
        from: id(1),
    };
    out.input(
        "hello",
        json!({
            "initiator": "peer_a",
            "responder": "peer_b",
            "initiator_ephemeral": hex::encode(key(0xA2)),
            "responder_ephemeral": hex::encode(key(0xB0)),
            "initiator_index": 0x1111_1111u32,
            "responder_index": 0x2222_2222u32,
            "timestamp": ts + 2,
            "initiator_id": 1,
            "responder_id": 2,
        }),
    );
    let (h_init, h_initiator) =
        Initiator::start(&a, &b.public, 0x1111_1111, &hello, None, Some(&key(0xA2))).unwrap();
    out.put("hello.init", &h_init);
    let Ok(Frame::Init(h_frame)) = Frame::parse(&h_init) else {
        panic!("hello init")
    };
    let ack = RespPayload::HelloAck { from: id(2) };
    let (h_resp, b_keys, _) =
        respond_with_ephemeral(&b, &h_frame, 0x2222_2222, &ack, &key(0xB0)).unwrap();
    out.put("hello.resp", &h_resp);
    let Ok(Frame::Resp(h_resp_frame)) = Frame::parse(&h_resp) else {
        panic!("hello resp")
    };
    let (ab_keys, got) = h_initiator.finish(&a, &h_resp_frame).unwrap();
    assert_eq!(got, ack);

    // TRANSPORT frames on A's session with the server, then between A and B.
    let mut a_srv = Session::<2>::new(a_keys.clone(), 0x0102_0304, 0x0A0B_0C0D);
    let mut srv_a = Session::<2>::new(s_keys.clone(), 0x0A0B_0C0D, 0x0102_0304);
    let key_b = b.public;
    let to_server: Vec<(&str, Body<'_>)> = vec![
        ("keepalive", Body::Keepalive { seq: Seq(1) }),
        (
            "list",
            Body::List {
                seq: Seq(2),
                after: 0,
            },
        ),
        (
            "connect",
            Body::Connect {
                seq: Seq(3),
                target: id(2),
            },
        ),
        (
            "relay",
            Body::Relay {
                seq: Seq(4),
                target: id(2),
                data: &h_init,
            },
        ),
        ("unregister", Body::Unregister { seq: Seq(5) }),
    ];
    for (name, b) in &to_server {
        seal(
            &mut out,
            ("peer_a", "server", "register"),
            &mut a_srv,
            &format!("transport.{name}"),
            b,
        );
    }
    let to_peer: Vec<(&str, Body<'_>)> = vec![
        (
            "keepalive_ack",
            Body::KeepaliveAck {
                seq: Seq(1),
                keepalive: 25,
                addr: src,
            },
        ),
        (
            "list_ack",
            Body::ListAck {
                seq: Seq(2),
                more: false,
                peers: vec![
                    (id(2), addr("203.0.113.5:5000")),
                    (id(3), addr("[2001:db8::3]:6000")),
                ],
            },
        ),
        (
            "connect_ack",
            Body::ConnectAck {
                seq: Seq(3),
                target: id(2),
                key: key_b,
                addr: addr("203.0.113.5:5000"),
            },
        ),
        (
            "intro",
            Body::Intro {
                from: id(2),
                key: key_b,
                addr: addr("203.0.113.5:5000"),
            },
        ),
        ("relay_ack", Body::RelayAck { seq: Seq(4) }),
        (
            "relayed",
            Body::Relayed {
                from: id(2),
                data: &h_resp,
            },
        ),
        ("unregister_ack", Body::UnregisterAck { seq: Seq(5) }),
        (
            "error",
            Body::Error {
                seq: Seq(6),
                code: ErrorCode::PeerOffline,
                message: "peer 2 is offline",
            },
        ),
    ];
    for (name, b) in &to_peer {
        seal(
            &mut out,
            ("server", "peer_a", "register"),
            &mut srv_a,
            &format!("transport.{name}"),
            b,
        );
    }
    let mut ab = Session::<32>::new(ab_keys, 0x1111_1111, 0x2222_2222);
    let mut ba = Session::<32>::new(b_keys, 0x2222_2222, 0x1111_1111);
    let text = "hello, B \u{2713}";
    seal(
        &mut out,
        ("peer_a", "peer_b", "hello"),
        &mut ab,
        "transport.message",
        &Body::Message {
            msg: MsgId(7),
            ts: 1_795_000_000_000,
            text,
        },
    );
    seal(
        &mut out,
        ("peer_a", "peer_b", "hello"),
        &mut ab,
        "transport.probe",
        &Body::Probe {
            nonce: 0x0123_4567_89AB_CDEF,
        },
    );
    seal(
        &mut out,
        ("peer_b", "peer_a", "hello"),
        &mut ba,
        "transport.message_ack",
        &Body::MessageAck { msg: MsgId(7) },
    );
    seal(
        &mut out,
        ("peer_b", "peer_a", "hello"),
        &mut ba,
        "transport.probe_ack",
        &Body::ProbeAck {
            nonce: 0x0123_4567_89AB_CDEF,
        },
    );
    out
}

#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
struct Vectors {
    inputs: BTreeMap<String, Value>,
    outputs: BTreeMap<String, String>,
}

#[test]
fn vectors_match_the_stored_bytes() {
    let built = build();
    let built = Vectors {
        inputs: built.inputs,
        outputs: built.outputs,
    };
    let path = file();
    if std::env::var_os("PEERD_WRITE_VECTORS").is_some() {
        let text = serde_json::to_string_pretty(&built).unwrap();
        std::fs::write(&path, text + "\n").unwrap();
    }
    let stored: Vectors =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("vectors file")).unwrap();
    assert_eq!(stored.inputs, built.inputs, "same inputs");
    assert_eq!(stored.outputs.len(), built.outputs.len(), "same vectors");
    for (name, value) in &built.outputs {
        assert_eq!(stored.outputs.get(name), Some(value), "vector {name}");
    }
}

#[test]
fn stored_frames_decrypt_to_their_payloads() {
    let all: Vectors = serde_json::from_str(&std::fs::read_to_string(file()).unwrap()).unwrap();
    let v = &all.outputs;
    let bytes = |k: &str| {
        let text = match v.get(k) {
            Some(t) => t.clone(),
            None => all.inputs[k].as_str().expect(k).to_owned(),
        };
        hex::decode(text).unwrap()
    };
    let arr = |k: &str| -> [u8; 32] { bytes(k).try_into().unwrap() };
    let server = Identity::new(SecretKey::from_bytes(arr("server.private")));
    assert_eq!(server.public, PublicKey(arr("server.public")));
    // The server reads the stored INIT like any other.
    let init = bytes("register.init");
    let Ok(Frame::Init(f)) = Frame::parse(&init) else {
        panic!()
    };
    let seen = accept(&server, &f).unwrap();
    assert_eq!(seen.initiator, PublicKey(arr("peer_a.public")));
    assert!(matches!(seen.payload, InitPayload::Register { .. }));
    // Every server-bound frame opens with the stored session keys.
    let keys = SessionKeys {
        send: arr("register.key_responder_to_initiator"),
        recv: arr("register.key_initiator_to_responder"),
    };
    let mut srv = Session::<2>::new(keys, 0x0A0B_0C0D, 0x0102_0304);
    let mut buf = Vec::new();
    for name in ["keepalive", "list", "connect", "relay", "unregister"] {
        let frame = bytes(&format!("transport.{name}"));
        let Ok(Frame::Transport(t)) = Frame::parse(&frame) else {
            panic!("{name}")
        };
        let plain = srv.open(&t, &mut buf).unwrap();
        let b = Body::decode(plain).unwrap();
        assert!(b.is_request(), "{name}: {b:?}");
        assert_eq!(b.name().to_lowercase(), name);
    }
}
