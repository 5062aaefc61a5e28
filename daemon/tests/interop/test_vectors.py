"""Rebuilds every output of docs/protocol-v2-vectors.json from its inputs alone.

Run: `python3 daemon/tests/interop/test_vectors.py` (exit status 0 when all
pass) or `python3 -m unittest discover -s daemon/tests/interop -p 'test_*.py'`.
`PEERD_VECTORS` names another vectors file.

The file holds two objects (docs/protocol.md section 10): `inputs`, every
fixed input, and `outputs`, the bytes that result. `build()` computes every
output from the inputs and the document, nothing else; the tests compare the
two sets of names and every value, check that every input was used, and
decode every frame back with the receiver's keys.

A few inputs are written as short English phrases rather than values
("A is peer 1, B is peer 2", "id 1, keepalive 25, addr 198.51.100.7:40000",
"A to server (register)"); `Inputs` reads them with the patterns below and
fails on any other wording.
"""

from __future__ import annotations

import json
import os
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peerd_v2 as p  # noqa: E402

VECTORS = Path(
    os.environ.get(
        "PEERD_VECTORS",
        Path(__file__).resolve().parents[3] / "docs" / "protocol-v2-vectors.json",
    )
)

# The two handshakes of section 10: who initiates, who responds.
HANDSHAKES = {"register": ("A", "server"), "hello": ("A", "B")}


class Inputs:
    """The `inputs` object, read strictly; remembers which names were read."""

    def __init__(self, raw: dict) -> None:
        self.raw = raw
        self.used: set = set()

    def text(self, name: str) -> str:
        if name not in self.raw:
            raise KeyError(f"input {name} is missing")
        self.used.add(name)
        value = self.raw[name]
        if not isinstance(value, str):
            raise ValueError(f"input {name} is not a string: {value!r}")
        return value

    def hex(self, name: str, size: int = 0) -> bytes:
        value = bytes.fromhex(self.text(name))
        if size and len(value) != size:
            raise ValueError(f"input {name} is {len(value)} bytes, not {size}")
        return value

    def index(self, name: str) -> int:
        text = self.text(name)
        if not re.fullmatch(r"0x[0-9a-f]{8}", text):
            raise ValueError(f"input {name} is not a u32 as 0x + 8 hex digits: {text!r}")
        return int(text, 16)

    def integer(self, name: str) -> int:
        text = self.text(name)
        if not re.fullmatch(r"[0-9]+", text):
            raise ValueError(f"input {name} is not a decimal integer: {text!r}")
        return int(text)

    def addr(self, name: str) -> tuple:
        return parse_addr(self.text(name), name)

    def private(self, who: str) -> p.StaticKey:
        return p.StaticKey.from_private(self.hex(f"{who}.private", 32))

    def peer_ids(self) -> dict:
        """`hello.from`: "A is peer 1, B is peer 2"."""
        text = self.text("hello.from")
        m = re.fullmatch(r"A is peer ([0-9]+), B is peer ([0-9]+)", text)
        if not m:
            raise ValueError(f"hello.from reads {text!r}")
        return {"A": int(m.group(1)), "B": int(m.group(2))}

    def registered(self) -> p.Registered:
        """`register.registered`: "id 1, keepalive 25, addr 198.51.100.7:40000"."""
        text = self.text("register.registered")
        m = re.fullmatch(r"id ([0-9]+), keepalive ([0-9]+), addr (\S+)", text)
        if not m:
            raise ValueError(f"register.registered reads {text!r}")
        return p.Registered(int(m.group(1)), int(m.group(2)), parse_addr(m.group(3), text))

    def session(self, name: str) -> tuple:
        """`transport.X.session`: "A to server (register)" -> (handshake, sender is its initiator)."""
        text = self.text(name)
        m = re.fullmatch(r"(\w+) to (\w+) \((\w+)\)", text)
        if not m or m.group(3) not in HANDSHAKES:
            raise ValueError(f"{name} reads {text!r}")
        sender, receiver, handshake = m.groups()
        initiator, responder = HANDSHAKES[handshake]
        if (sender, receiver) not in ((initiator, responder), (responder, initiator)):
            raise ValueError(f"{name}: {sender} and {receiver} are not the two sides of {handshake}")
        return handshake, sender == initiator


def parse_addr(text: str, what: str) -> tuple:
    m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:([0-9]+)|([0-9.]+):([0-9]+)", text)
    if not m:
        raise ValueError(f"{what}: {text!r} is not IP:port")
    host = m.group(1) or m.group(3)
    return p.normal_addr((host, int(m.group(2) or m.group(4))))


class Built:
    """Every output rebuilt, and what the decoding tests need."""

    def __init__(self, inputs: Inputs) -> None:
        self.inputs = inputs
        self.out: dict = {}
        self.keys = {who: inputs.private(who) for who in ("server", "peer_a", "peer_b")}
        self.parties = {"server": self.keys["server"], "A": self.keys["peer_a"], "B": self.keys["peer_b"]}
        for who, key in self.keys.items():
            self.out[f"{who}.public"] = key.public.hex()
            self.out[f"{who}.public_base64"] = p.key_to_text(key.public)
            self.out[f"{who}.fingerprint"] = p.fingerprint(key.public)
        self.out["key_request"] = p.key_request().hex()
        self.out["key_reply"] = p.key_reply(self.keys["server"].public).hex()
        self.ids = inputs.peer_ids()
        self.registered = inputs.registered()
        self.sessions: dict = {}  # handshake -> (initiator's Session, responder's Session)
        self.payloads: dict = {}  # handshake -> the INIT's payload
        self._register()
        self._cookie()
        self._hello()
        self._transports()

    def pending(self, name: str) -> p.PendingInit:
        """The initiator's side of handshake `name`, new (before it read any answer)."""
        i = self.inputs
        initiator, responder = (self.parties[w] for w in HANDSHAKES[name])
        return p.start_handshake(
            initiator, responder.public, i.index(f"{name}.initiator_index"), self.payloads[name],
            ephemeral=i.hex(f"{name}.initiator_ephemeral", 32), now=0.0,
        )

    def _handshake(self, name: str, payload: p.Payload, answer: p.Payload, window: int) -> None:
        i = self.inputs
        responder = self.parties[HANDSHAKES[name][1]]
        self.payloads[name] = payload
        pending = self.pending(name)
        init = pending.frame
        allowed = {p.K_REGISTER} if name == "register" else {p.K_HELLO}
        accepted = p.read_init(responder, init, allowed)
        resp, responder_session = p.answer_init(
            accepted, i.index(f"{name}.responder_index"), answer, window, 0.0,
            ephemeral=i.hex(f"{name}.responder_ephemeral", 32),
        )
        _, initiator_session = p.read_resp(pending, resp, window, 0.0)
        self.out[f"{name}.init"] = init.hex()
        self.out[f"{name}.resp"] = resp.hex()
        self.sessions[name] = (initiator_session, responder_session)

    def _register(self) -> None:
        self._handshake(
            "register", p.Register(self.inputs.integer("register.timestamp")), self.registered, p.WINDOW_SERVER
        )
        a_session, _ = self.sessions["register"]
        self.out["register.key_initiator_to_responder"] = a_session.send_key.hex()
        self.out["register.key_responder_to_initiator"] = a_session.recv_key.hex()

    def _cookie(self) -> None:
        i = self.inputs
        cookie = p.cookie_value(i.hex("cookie.secret", 32), i.addr("cookie.source"))
        self.out["cookie.value"] = cookie.hex()
        answered = i.text("cookie.answers")
        if answered not in self.out or not answered.endswith(".init"):
            raise ValueError(f"cookie.answers names {answered!r}, not an INIT built before it")
        init = p.HandshakeInit.decode(bytes.fromhex(self.out[answered]))
        reply = p.seal_cookie(init.sender, i.hex("cookie.nonce", 24), cookie, self.keys["server"].public, init.mac1)
        self.out["cookie.reply"] = reply.encode().hex()
        fresh = p.start_handshake(
            self.keys["peer_a"], self.keys["server"].public, i.index("cookie.init_index"),
            p.Register(i.integer("cookie.init_timestamp")), cookie=cookie,
            ephemeral=i.hex("cookie.init_ephemeral", 32), now=0.0,
        )
        self.out["cookie.init_with_mac2"] = fresh.frame.hex()

    def _hello(self) -> None:
        timestamp = self.inputs.integer("hello.timestamp")
        self._handshake("hello", p.Hello(timestamp, self.ids["A"]), p.HelloAck(self.ids["B"]), p.WINDOW_DAEMON)

    def direction(self, name: str) -> tuple:
        """(sending Session, receiving Session) of the TRANSPORT vector `name`."""
        handshake, from_initiator = self.inputs.session(f"{name}.session")
        initiator, responder = self.sessions[handshake]
        return (initiator, responder) if from_initiator else (responder, initiator)

    def _transports(self) -> None:
        names = sorted({k.rsplit(".", 1)[0] for k in self.inputs.raw if k.startswith("transport.")})
        self.transports = names
        for name in names:
            sender, receiver = self.direction(name)
            counter = self.inputs.integer(f"{name}.counter")
            payload = self.inputs.hex(f"{name}.payload")
            frame = p.seal_transport(sender.send_key, receiver.local_index, counter, payload)
            self.out[name] = frame.hex()


class Vectors(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        with open(VECTORS, encoding="utf-8") as f:
            data = json.load(f)
        cls.inputs = Inputs(data["inputs"])
        cls.outputs = data["outputs"]
        cls.built = Built(cls.inputs)

    def out(self, name: str) -> bytes:
        return bytes.fromhex(self.outputs[name])

    def fresh(self) -> Built:
        """A new build: sessions with their counters and windows at zero."""
        return Built(Inputs(self.inputs.raw))

    # ------------------------------------------------------ the whole file

    def test_every_output_rebuilt_from_the_inputs(self) -> None:
        self.assertEqual(sorted(self.built.out), sorted(self.outputs), "outputs built vs outputs in the file")
        for name, value in self.outputs.items():
            with self.subTest(output=name):
                self.assertEqual(self.built.out[name], value, f"output {name}")

    def test_every_input_used(self) -> None:
        self.assertEqual(set(self.inputs.raw) - self.inputs.used, set(), "inputs the build never read")

    # ----------------------------------------------------------------- keys

    def test_keys_text_and_fingerprints(self) -> None:
        for who in ("server", "peer_a", "peer_b"):
            text = self.outputs[f"{who}.public_base64"]
            self.assertEqual(len(text), 44)
            self.assertEqual(p.key_from_text(text), self.out(f"{who}.public"))
            self.assertEqual(p.key_from_text(f"  {text}\n"), self.out(f"{who}.public"), "white space around is trimmed")
            fp = self.outputs[f"{who}.fingerprint"]
            self.assertRegex(fp, r"^[0-9a-f]{4}(:[0-9a-f]{4}){7}$")
        text = self.outputs["peer_a.public_base64"]
        for bad in (text[:-1], text.rstrip("=") + "A", text[:20] + "\n" + text[20:], text + "=", text.replace("+", "-")):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                p.key_from_text(bad)

    def test_key_request_and_reply(self) -> None:
        self.assertEqual(len(self.out("key_request")), 64)
        self.assertEqual(self.out("key_request")[0], p.KEY_REQUEST)
        self.assertEqual(p.decode_key_reply(self.out("key_reply")), self.out("server.public"))
        with self.assertRaises(p.Malformed):
            p.decode_key_reply(self.out("key_reply")[:-1])

    # ------------------------------------------------------------- REGISTER

    def test_register_init_decodes(self) -> None:
        server = self.built.keys["server"]
        init = self.out("register.init")
        self.assertEqual(len(init), 142)
        accepted = p.read_init(server, init, {p.K_REGISTER})
        self.assertEqual(accepted.sender, self.inputs.index("register.initiator_index"))
        self.assertEqual(accepted.initiator_public, self.out("peer_a.public"))
        self.assertEqual(accepted.payload, p.Register(self.inputs.integer("register.timestamp")))
        self.assertEqual(p.HandshakeInit.decode(init).mac2, bytes(16), "no cookie: mac2 is zeros")

    def test_register_resp_decodes(self) -> None:
        resp = self.out("register.resp")
        decoded = p.HandshakeResp.decode(resp)
        self.assertEqual(decoded.sender, self.inputs.index("register.responder_index"))
        self.assertEqual(decoded.receiver, self.inputs.index("register.initiator_index"))
        self.assertLessEqual(len(resp), len(self.out("register.init")), "a RESP is never longer than its INIT")
        payload, session = p.read_resp(self.built.pending("register"), resp, p.WINDOW_SERVER, 0.0)
        self.assertEqual(payload, self.inputs.registered())
        self.assertEqual(session.send_key, self.out("register.key_initiator_to_responder"))
        self.assertEqual(session.recv_key, self.out("register.key_responder_to_initiator"))

    def test_register_resp_rejects_tampering(self) -> None:
        resp = self.out("register.resp")
        for i in (0, 4, 8, 20, len(resp) - 1):
            bad = bytearray(resp)
            bad[i] ^= 0x01
            with self.subTest(byte=i), self.assertRaises((p.Malformed, p.Rejected)):
                p.read_resp(self.built.pending("register"), bytes(bad), p.WINDOW_SERVER, 0.0)
        with self.assertRaises(p.Rejected):  # later than 15 s
            p.read_resp(self.built.pending("register"), resp, p.WINDOW_SERVER, 15.5)
        with self.assertRaises(p.Malformed):  # shorter than 80 bytes
            p.read_resp(self.built.pending("register"), resp[:79], p.WINDOW_SERVER, 0.0)

    def test_init_checks(self) -> None:
        server, b = self.built.keys["server"], self.built.keys["peer_b"]
        init = self.out("register.init")
        bad_mac1 = bytearray(init)
        bad_mac1[-20] ^= 1
        with self.assertRaisesRegex(p.Rejected, "mac1"):
            p.read_init(server, bytes(bad_mac1), {p.K_REGISTER})
        with self.assertRaisesRegex(p.Rejected, "mac1"):  # to another responder
            p.read_init(b, init, {p.K_REGISTER})
        with self.assertRaises(p.Malformed):
            p.read_init(server, init[:141], {p.K_REGISTER})
        with self.assertRaises(p.Malformed):  # a daemon wants 150 bytes and HELLO
            p.read_init(server, init, {p.K_HELLO})
        # A broken ciphertext with a right mac1 (the sender knows the key).
        body = bytearray(init[:-32])
        body[50] ^= 1
        forged = p.build_init(p.u32be(init, 1), bytes(body[5:]), server.public, None)
        with self.assertRaises(p.Rejected):
            p.read_init(server, forged.encode(), {p.K_REGISTER})

    # --------------------------------------------------------------- cookies

    def test_cookie_reply_decodes(self) -> None:
        server = self.built.keys["server"]
        reply = p.CookieReply.decode(self.out("cookie.reply"))
        answered = p.HandshakeInit.decode(self.out(self.inputs.text("cookie.answers")))
        self.assertEqual(len(self.out("cookie.reply")), 61)
        self.assertEqual(reply.receiver, answered.sender)
        self.assertEqual(reply.nonce, self.inputs.hex("cookie.nonce"))
        self.assertEqual(reply.open(server.public, answered.mac1), self.out("cookie.value"))
        with self.assertRaises(p.Rejected):  # associated data: the mac1 of the INIT answered
            reply.open(server.public, bytes(16))
        with self.assertRaises(p.Rejected):  # key: from the server's public key
            reply.open(self.out("peer_a.public"), answered.mac1)
        source = self.inputs.addr("cookie.source")
        mapped = ("::ffff:" + source[0], source[1])
        self.assertEqual(p.cookie_value(self.inputs.hex("cookie.secret"), mapped), self.out("cookie.value"),
                         "an IPv4-mapped source is written as 4 bytes")

    def test_init_with_mac2_decodes(self) -> None:
        server = self.built.keys["server"]
        cookie = self.out("cookie.value")
        init = self.out("cookie.init_with_mac2")
        frame = p.HandshakeInit.decode(init)
        self.assertEqual(frame.sender, self.inputs.index("cookie.init_index"))
        self.assertEqual(frame.mac2, p.MAC(cookie, init[:-16]), "mac2 is keyed by the 16-byte cookie")
        padded = p.MAC(cookie + bytes(16), init[:-16])
        self.assertNotEqual(frame.mac2, padded, "a 16-byte key is not the same key padded to 32")

        def mac2_ok(f: p.HandshakeInit) -> bool:
            return p.check_mac(p.MAC(cookie, f.mac2_input()), f.mac2)

        accepted = p.read_init(server, init, {p.K_REGISTER}, cookie_check=mac2_ok)
        self.assertEqual(accepted.payload, p.Register(self.inputs.integer("cookie.init_timestamp")))
        self.assertEqual(accepted.initiator_public, self.out("peer_a.public"))
        with self.assertRaisesRegex(p.Rejected, "mac2"):
            p.read_init(server, self.out("register.init"), {p.K_REGISTER}, cookie_check=mac2_ok)

    # ----------------------------------------------------------------- HELLO

    def test_hello_handshake_decodes(self) -> None:
        b = self.built.keys["peer_b"]
        init, resp = self.out("hello.init"), self.out("hello.resp")
        self.assertEqual((len(init), len(resp)), (150, 82))
        accepted = p.read_init(b, init, {p.K_HELLO})
        ids = self.inputs.peer_ids()
        self.assertEqual(accepted.payload, p.Hello(self.inputs.integer("hello.timestamp"), ids["A"]))
        self.assertEqual(accepted.initiator_public, self.out("peer_a.public"))
        payload, session = p.read_resp(self.built.pending("hello"), resp, p.WINDOW_DAEMON, 0.0)
        self.assertEqual(payload, p.HelloAck(ids["B"]))
        self.assertEqual(
            (session.local_index, session.remote_index),
            (self.inputs.index("hello.initiator_index"), self.inputs.index("hello.responder_index")),
        )

    # ------------------------------------------------------------- TRANSPORT

    def test_every_kind_has_a_transport_vector(self) -> None:
        kinds = {bytes.fromhex(self.inputs.raw[f"{n}.payload"])[0] for n in self.built.transports}
        wanted = {
            p.K_KEEPALIVE, p.K_LIST, p.K_CONNECT, p.K_UNREGISTER, p.K_RELAY,
            p.K_KEEPALIVE_ACK, p.K_LIST_ACK, p.K_CONNECT_ACK, p.K_UNREGISTER_ACK, p.K_RELAY_ACK,
            p.K_INTRO, p.K_RELAYED, p.K_ERROR, p.K_MESSAGE, p.K_MESSAGE_ACK, p.K_PROBE, p.K_PROBE_ACK,
        }
        self.assertEqual(wanted - kinds, set(), "kinds of sections 5 and 6 without a vector")

    def test_transport_frames_decode(self) -> None:
        build = self.fresh()
        for name in build.transports:
            with self.subTest(vector=name):
                frame = self.out(name)
                _, receiver = build.direction(name)
                decoded = p.Transport.decode(frame)
                self.assertEqual(decoded.receiver, receiver.local_index)
                self.assertEqual(decoded.counter, self.inputs.integer(f"{name}.counter"))
                plain = receiver.open(decoded, 0.0)
                self.assertEqual(plain, self.inputs.hex(f"{name}.payload"))
                payload = p.decode_payload(plain, p.TRANSPORT_KINDS)
                self.assertEqual(payload.encode(), plain, "decode then encode gives the same bytes")
                self.assertEqual(len(frame), p.TRANSPORT_OVERHEAD + len(plain))
                with self.assertRaises(p.Rejected):  # the same frame again: the replay window
                    receiver.open(decoded, 0.0)

    def payload(self, name: str) -> p.Payload:
        return p.decode_payload(self.inputs.hex(f"{name}.payload"))

    def test_transport_payloads_agree_with_the_handshakes(self) -> None:
        """The values inside the frames are those of the rest of the file."""
        ids, registered = self.inputs.peer_ids(), self.inputs.registered()
        b_key = self.out("peer_b.public")
        ka = self.payload("transport.keepalive_ack")
        self.assertEqual((ka.keepalive, ka.addr), (registered.keepalive, registered.addr))
        self.assertEqual(self.payload("transport.keepalive").seq, ka.seq)
        pairs = [("list", "list_ack"), ("connect", "connect_ack"), ("relay", "relay_ack"),
                 ("unregister", "unregister_ack")]
        for request, reply in pairs:
            self.assertEqual(self.payload(f"transport.{request}").seq, self.payload(f"transport.{reply}").seq)
        ack = self.payload("transport.connect_ack")
        self.assertEqual((ack.target, ack.key), (ids["B"], b_key))
        self.assertEqual(self.payload("transport.connect").target, ids["B"])
        intro = self.payload("transport.intro")
        self.assertEqual((intro.sender, intro.key), (ids["B"], b_key))
        listing = self.payload("transport.list_ack")
        self.assertNotIn(registered.id, [i for i, _ in listing.entries], "LIST never shows the asker")
        self.assertIn(ids["B"], [i for i, _ in listing.entries])
        msg, msg_ack = self.payload("transport.message"), self.payload("transport.message_ack")
        self.assertEqual(msg.msg, msg_ack.msg)
        self.assertEqual(self.payload("transport.probe").nonce, self.payload("transport.probe_ack").nonce)

    def test_relay_and_relayed_carry_the_hello_handshake(self) -> None:
        ids = self.inputs.peer_ids()
        relay, relayed = self.payload("transport.relay"), self.payload("transport.relayed")
        self.assertEqual(relay.target, ids["B"])
        self.assertEqual(relay.data, self.out("hello.init"), "RELAY carries A's HELLO INIT to B")
        self.assertEqual(relayed.sender, ids["B"])
        self.assertEqual(relayed.data, self.out("hello.resp"), "RELAYED brings B's HELLO_ACK to A")
        accepted = p.read_init(self.built.keys["peer_b"], relay.data, {p.K_HELLO})
        self.assertEqual(accepted.payload.sender, ids["A"], "an INIT in RELAYED: `from` equals RELAYED's `from`")
        payload, _ = p.read_resp(self.built.pending("hello"), relayed.data, p.WINDOW_DAEMON, 0.0)
        self.assertEqual(payload.sender, relayed.sender)
        relay_frame, relayed_frame = self.out("transport.relay"), self.out("transport.relayed")
        self.assertEqual(len(relay_frame), p.TRANSPORT_OVERHEAD + 13 + len(relay.data))
        self.assertEqual(len(relayed_frame), p.TRANSPORT_OVERHEAD + 9 + len(relayed.data))

    def test_session_replay_window(self) -> None:
        build = self.fresh()
        a_srv, srv = build.sessions["register"]
        frames = [a_srv.seal(p.Keepalive(i + 1).encode()) for i in range(3)]
        self.assertFalse(srv.confirmed, "a responder's session is unconfirmed until a frame arrives")
        for f in (frames[2], frames[0]):
            srv.open(p.Transport.decode(f), 1.0)
        self.assertTrue(srv.confirmed)
        with self.assertRaises(p.Rejected):  # replayed
            srv.open(p.Transport.decode(frames[0]), 1.0)
        srv.open(p.Transport.decode(frames[1]), 1.0)  # late but inside the window
        with self.assertRaises(p.Rejected):  # older than REJECT_AFTER
            srv.open(p.Transport.decode(a_srv.seal(b"\x10\0\0\0\7")), 901.0)
        window = p.ReplayWindow(128)
        window.accept(1000)
        self.assertFalse(window.check(1000 - 128))
        self.assertTrue(window.check(1000 - 127))
        self.assertFalse(window.check(1000))
        tampered = bytearray(frames[2])
        tampered[-1] ^= 1
        with self.assertRaises(p.Rejected):
            srv.open(p.Transport.decode(bytes(tampered)), 1.0)

    def test_payload_limits(self) -> None:
        for name in self.built.transports:
            enc = self.inputs.hex(f"{name}.payload")
            fixed = {p.K_RELAY: 13, p.K_RELAYED: 9, p.K_MESSAGE: 17}.get(enc[0], len(enc))
            if enc[0] == p.K_ERROR:
                fixed = len(enc) - 1
            with self.subTest(vector=name), self.assertRaises(p.Malformed):
                p.decode_payload(enc[: fixed - 1])
            if enc[0] not in (p.K_RELAY, p.K_RELAYED, p.K_MESSAGE):  # these run to the end
                self.assertEqual(p.decode_payload(enc + b"\xff\xff").encode(), enc, "trailing bytes are ignored")
        with self.assertRaises(p.Malformed):
            p.decode_payload(b"\x77")
        with self.assertRaises(p.Malformed):  # an address of family 5
            p.decode_payload(bytes.fromhex("9000000001001905c63364079c40"))
        with self.assertRaises(p.Malformed):  # not UTF-8
            p.decode_payload(p.Message(1, 2, "").encode() + b"\xff")
        with self.assertRaises(p.Malformed):  # 1001 bytes of text
            p.decode_payload(p.Message(1, 2, "").encode() + b"a" * 1001)
        self.assertEqual(len(p.Message(1, 2, "\u00e9" * 500).encode()), 1017)
        self.assertEqual(p.encode_addr(("::ffff:10.0.0.1", 7)), bytes.fromhex("040a0000010007"))

    def test_v1_answer(self) -> None:
        self.assertEqual(
            p.v1_answer(7),
            b'{"v":1,"type":"ERROR","seq":7,"code":"unsupported_version",'
            b'"message":"this server speaks peerd protocol v2"}',
        )
        cases = [(b'{"v":1,"seq":42}', 42), (b'{"seq":4294967295}', 4294967295), (b'{"seq":4294967296}', 0),
                 (b'{"seq":-1}', 0), (b'{"seq":1.5}', 0), (b'{"seq":"3"}', 0), (b'{"seq":true}', 0),
                 (b"[1,2]", 0), (b"{", 0)]
        for datagram, seq in cases:
            with self.subTest(datagram=datagram):
                self.assertEqual(p.v1_seq(datagram), seq)


def main() -> int:
    result = unittest.main(module=__name__, exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    sys.stderr.flush()
    print(f"vectors: {result.testsRun - failed} passed, {failed} failed")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
