//! The test vectors of protocol v2 (`docs/protocol-v2-vectors.json`): every
//! frame is rebuilt from the fixed inputs (keys, ephemeral keys, indices,
//! timestamps, counters, the cookie secret and nonce) and must equal the
//! stored bytes exactly; every frame is then read back and decrypted.
//!
//! Every u64 input (timestamps, ids, counters) is written as a string of
//! decimal digits (docs/protocol.md 10): many JSON parsers hold numbers as
//! doubles, exact only up to 2^53, and the timestamps go beyond. The tests
//! read them back as exact u64s.
//!
//! `PEERD_WRITE_VECTORS=1 cargo test -p peerd-shared --test vectors -- --test-threads=1`
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

/// A u64 input as the file writes it: a string of decimal digits.
fn u64_text(n: u64) -> Value {
    Value::String(n.to_string())
}

/// A u64 as the file writes it: a string of decimal digits, no sign, no
/// leading zero but in 0 itself, that fits 64 bits.
fn parse_u64(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let canonical = text == "0" || !text.starts_with('0');
    (digits && canonical).then(|| text.parse().ok()).flatten()
}

/// A u64 input read back exactly.
fn u64_of(v: &Value, what: &str) -> u64 {
    v.as_str()
        .and_then(parse_u64)
        .unwrap_or_else(|| panic!("{what}: {v} is not a u64 written as a decimal string"))
}

/// A u16 or u32 input: a JSON integer.
fn u32_of(v: &Value, what: &str) -> u32 {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or_else(|| panic!("{what}: {v} is not a u32 number"))
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
        "counter": u64_text(s.sent()),
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
            "timestamp": u64_text(ts),
            "registered": { "id": u64_text(1), "keepalive": 25, "addr": "198.51.100.7:40000" },
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
            "init_timestamp": u64_text(ts + 1),
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
            "timestamp": u64_text(ts + 2),
            "initiator_id": u64_text(1),
            "responder_id": u64_text(2),
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

/// The stored file, with its inputs read as the document says.
struct Stored {
    all: Vectors,
}

impl Stored {
    fn load() -> Self {
        let text = std::fs::read_to_string(file()).expect("vectors file");
        Self {
            all: serde_json::from_str(&text).unwrap(),
        }
    }

    /// The input at `path` (`register.timestamp`, `transport.list.counter`).
    fn input(&self, path: &str) -> &Value {
        let (name, field) = match self.all.inputs.get(path) {
            Some(v) => return v,
            None => path.rsplit_once('.').expect("a field path"),
        };
        match self.input(name).get(field) {
            Some(v) => v,
            None => panic!("input {path} is missing"),
        }
    }

    fn u64(&self, path: &str) -> u64 {
        u64_of(self.input(path), path)
    }

    fn u32(&self, path: &str) -> u32 {
        u32_of(self.input(path), path)
    }

    fn text(&self, path: &str) -> &str {
        self.input(path).as_str().expect(path)
    }

    /// A byte string, from the outputs or the inputs.
    fn bytes(&self, name: &str) -> Vec<u8> {
        let text = match self.all.outputs.get(name) {
            Some(t) => t.as_str(),
            None => self.text(name),
        };
        hex::decode(text).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn key(&self, name: &str) -> [u8; 32] {
        self.bytes(name).try_into().expect("32 bytes")
    }

    fn identity(&self, role: &str) -> Identity {
        Identity::new(SecretKey::from_bytes(self.key(&format!("{role}.private"))))
    }

    /// The initiator's side of handshake `name`, started again from the
    /// stored inputs: the INIT it writes must be the stored one.
    fn initiator(&self, name: &str, payload: &InitPayload) -> Initiator {
        let initiator = self.identity(self.text(&format!("{name}.initiator")));
        let responder = self.identity(self.text(&format!("{name}.responder")));
        let (init, started) = Initiator::start(
            &initiator,
            &responder.public,
            self.u32(&format!("{name}.initiator_index")),
            payload,
            None,
            Some(&self.key(&format!("{name}.initiator_ephemeral"))),
        )
        .unwrap();
        assert_eq!(init, self.bytes(&format!("{name}.init")), "{name}.init");
        started
    }

    /// Both sides' sessions of handshake `name`: (initiator's, responder's).
    /// (Their replay windows are the larger one of section 4 whoever talks:
    /// this test only opens each stored frame once.)
    fn sessions(&self, name: &str, payload: &InitPayload) -> (Session<32>, Session<32>) {
        let initiator = self.identity(self.text(&format!("{name}.initiator")));
        let responder = self.identity(self.text(&format!("{name}.responder")));
        let resp = self.bytes(&format!("{name}.resp"));
        let Ok(Frame::Resp(resp)) = Frame::parse(&resp) else {
            panic!("{name}.resp does not parse")
        };
        let (keys, _) = self
            .initiator(name, payload)
            .finish(&initiator, &resp)
            .unwrap();
        let init = self.bytes(&format!("{name}.init"));
        let Ok(Frame::Init(init)) = Frame::parse(&init) else {
            panic!("{name}.init does not parse")
        };
        let seen = accept(&responder, &init).unwrap();
        assert_eq!(&seen.payload, payload, "{name}: the INIT's payload");
        let (i, r) = (
            self.u32(&format!("{name}.initiator_index")),
            self.u32(&format!("{name}.responder_index")),
        );
        assert_eq!((resp.sender, resp.receiver), (r, i), "{name}.resp indices");
        let back = SessionKeys {
            send: keys.recv,
            recv: keys.send,
        };
        (Session::new(keys, i, r), Session::new(back, r, i))
    }
}

#[test]
fn stored_frames_decrypt_to_their_payloads() {
    let v = Stored::load();
    let server = v.identity("server");
    assert_eq!(server.public, PublicKey(v.key("server.public")));

    // The REGISTER handshake, from the inputs: the INIT, REGISTERED, the keys.
    let register = InitPayload::Register {
        timestamp: v.u64("register.timestamp"),
    };
    assert!(register.timestamp() > 1 << 53, "a timestamp beyond 2^53");
    let a = v.identity("peer_a");
    let resp = v.bytes("register.resp");
    let Ok(Frame::Resp(resp)) = Frame::parse(&resp) else {
        panic!("register.resp")
    };
    let (keys, payload) = v
        .initiator("register", &register)
        .finish(&a, &resp)
        .unwrap();
    let registered = RespPayload::Registered {
        id: PeerId::new(v.u64("register.registered.id")).unwrap(),
        keepalive: u16::try_from(v.u32("register.registered.keepalive")).unwrap(),
        addr: addr(v.text("register.registered.addr")),
    };
    assert_eq!(payload, registered);
    assert_eq!(keys.send, v.key("register.key_initiator_to_responder"));
    assert_eq!(keys.recv, v.key("register.key_responder_to_initiator"));

    // The cookie: it opens with the answered INIT's mac1, and the INIT that
    // follows carries its mac2, its index and its timestamp.
    let answered = v.bytes(&format!("{}.init", v.text("cookie.answers")));
    let Ok(Frame::Init(answered)) = Frame::parse(&answered) else {
        panic!("cookie.answers")
    };
    let reply = v.bytes("cookie.reply");
    let Ok(Frame::Cookie(reply)) = Frame::parse(&reply) else {
        panic!("cookie.reply")
    };
    assert_eq!(reply.nonce.to_vec(), v.bytes("cookie.nonce"));
    let cookie = open_reply(&server.public, &reply, &answered.mac1).unwrap();
    assert_eq!(cookie.to_vec(), v.bytes("cookie.value"));
    let source = addr(v.text("cookie.source"));
    let guard = CookieGuard::new(&server.public, v.key("cookie.secret"), Instant::now());
    let with_mac2 = v.bytes("cookie.init_with_mac2");
    let Ok(Frame::Init(with_mac2)) = Frame::parse(&with_mac2) else {
        panic!("cookie.init_with_mac2")
    };
    assert!(guard.mac2_ok(source, &with_mac2));
    assert_eq!(with_mac2.sender, v.u32("cookie.init_index"));
    let seen = accept(&server, &with_mac2).unwrap();
    assert_eq!(
        seen.payload,
        InitPayload::Register {
            timestamp: v.u64("cookie.init_timestamp")
        }
    );

    // The HELLO handshake, and every TRANSPORT frame on the session its
    // `session` input names, with the counter and payload of its inputs.
    let hello = InitPayload::Hello {
        timestamp: v.u64("hello.timestamp"),
        from: PeerId::new(v.u64("hello.initiator_id")).unwrap(),
    };
    let mut sessions = BTreeMap::new();
    sessions.insert("register", v.sessions("register", &register));
    sessions.insert("hello", v.sessions("hello", &hello));
    let h_resp = v.bytes("hello.resp");
    let Ok(Frame::Resp(h_resp)) = Frame::parse(&h_resp) else {
        panic!("hello.resp")
    };
    let (_, ack) = v.initiator("hello", &hello).finish(&a, &h_resp).unwrap();
    assert_eq!(
        ack,
        RespPayload::HelloAck {
            from: PeerId::new(v.u64("hello.responder_id")).unwrap()
        }
    );
    let names: Vec<&String> = v
        .all
        .outputs
        .keys()
        .filter(|k| k.starts_with("transport."))
        .collect();
    assert_eq!(names.len(), 17, "a frame of every kind of sections 5 and 6");
    let mut buf = Vec::new();
    for name in names {
        let session = v.text(&format!("{name}.session"));
        let (initiator, responder) = (
            v.text(&format!("{session}.initiator")),
            v.text(&format!("{session}.responder")),
        );
        let (sender, receiver) = (
            v.text(&format!("{name}.sender")),
            v.text(&format!("{name}.receiver")),
        );
        let pair = sessions.get_mut(session).expect("a handshake name");
        let opener = if (sender, receiver) == (initiator, responder) {
            &mut pair.1
        } else {
            assert_eq!((sender, receiver), (responder, initiator), "{name}");
            &mut pair.0
        };
        let frame = v.bytes(name);
        let Ok(Frame::Transport(t)) = Frame::parse(&frame) else {
            panic!("{name}")
        };
        assert_eq!(t.receiver, opener.local, "{name}: receiver");
        assert_eq!(t.counter, v.u64(&format!("{name}.counter")), "{name}");
        let plain = opener.open(&t, &mut buf).unwrap().to_vec();
        assert_eq!(plain, v.bytes(&format!("{name}.payload")), "{name}");
        let body = Body::decode(&plain).unwrap();
        assert_eq!(format!("transport.{}", body.name().to_lowercase()), *name);
        assert_eq!(body.is_request(), receiver == "server", "{name}");
    }
}

#[test]
fn u64_inputs_are_exact_decimal_strings() {
    let v = Stored::load();
    for path in [
        "register.timestamp",
        "register.registered.id",
        "hello.timestamp",
        "hello.initiator_id",
        "hello.responder_id",
        "cookie.init_timestamp",
        "transport.relay.counter",
    ] {
        assert!(v.input(path).is_string(), "{path} is written as a string");
    }
    for name in v.all.outputs.keys().filter(|k| k.starts_with("transport.")) {
        let path = format!("{name}.counter");
        assert!(v.input(&path).is_string(), "{path} is written as a string");
    }
    assert_eq!(
        v.u64("register.timestamp"),
        1_795_000_000_000_000_000,
        "read exactly, beyond 2^53"
    );
    assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
    assert_eq!(parse_u64("0"), Some(0));
    for bad in [
        "18446744073709551616",
        "-1",
        "+1",
        "01",
        "",
        "1e3",
        " 1",
        "1.0",
    ] {
        assert_eq!(parse_u64(bad), None, "{bad:?}");
    }
}
