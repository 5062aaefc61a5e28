"""Rebuilds every vector of docs/protocol-v2-vectors.json from its inputs.

Run: `python3 daemon/tests/interop/test_vectors.py` (exit status 0 when all
pass) or `python3 -m unittest discover -s daemon/tests/interop -p 'test_*.py'`.
`PEERD_VECTORS` names another vectors file.

The JSON gives the static private keys, the cookie secret and the cookie
nonce. It does not give the other inputs, and docs/protocol.md does not
either (section 10 says only "fixed static and ephemeral keys, indices,
timestamps and counters"). They were recovered from the vectors themselves:
the ephemeral private keys by trying the byte-run pattern the static keys
follow (0x10.., 0x40.., 0x70..), everything else by decrypting the frames
with the keys. `RECOVERED` below lists them; the tests then rebuild every
byte from them and decode every frame back.
"""

from __future__ import annotations

import json
import os
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


def run(start: int) -> bytes:
    """32 bytes start, start+1, ..., the pattern of every key in the vectors."""
    return bytes((start + i) & 0xFF for i in range(32))


# Inputs that neither the JSON nor docs/protocol.md gives (recovered, see above).
RECOVERED = {
    # Ephemeral keys: the initiator's n-th handshake uses run(0xa0 + n).
    "register.ephemeral": run(0xA0),  # peer A's REGISTER INIT
    "cookie.ephemeral": run(0xA1),  # peer A's fresh INIT after the COOKIE_REPLY
    "hello.init_ephemeral": run(0xA2),  # peer A's HELLO INIT to peer B
    "hello.resp_ephemeral": run(0xB0),  # peer B's HELLO_ACK
    "register.resp_ephemeral": run(0xC0),  # the server's REGISTERED
    # Indices.
    "register.sender": 0x01020304,  # A's index for its session with the server
    "register.server_index": 0x0A0B0C0D,  # the server's index for that session
    "cookie.sender": 0x01020305,  # A's index for the INIT with mac2
    "hello.sender": 0x11111111,  # A's index for its session with B
    "hello.responder_index": 0x22222222,  # B's index
    # Timestamps (ns), in the order A sent them.
    "register.timestamp": 1_795_000_000_000_000_000,
    "cookie.timestamp": 1_795_000_000_000_000_001,
    "hello.timestamp": 1_795_000_000_000_000_002,
    # Registration: A is id 1, B id 2; A seen at 198.51.100.7:40000, B at
    # 203.0.113.5:5000; the keepalive is 25 s. The cookie is for A's source.
    "a.id": 1,
    "b.id": 2,
    "a.addr": ("198.51.100.7", 40000),
    "b.addr": ("203.0.113.5", 5000),
    "keepalive": 25,
}

# TRANSPORT vectors: (name, direction, counter, payload). Directions: "a>s"
# (A to the server), "s>a", "a>b", "b>a". Payload values recovered by decryption.
A_ID, B_ID = RECOVERED["a.id"], RECOVERED["b.id"]
B_KEY_HEX = "23b7bb8c91ae008711fb12846780bcdf1e065f821bdfec49f57e7c7dcd4c4823"  # = peer_b.public, checked below
TRANSPORTS = [
    ("transport.keepalive", "a>s", 0, lambda v: p.Keepalive(1)),
    ("transport.list", "a>s", 1, lambda v: p.List(2, 0)),
    ("transport.connect", "a>s", 2, lambda v: p.Connect(3, B_ID)),
    ("transport.relay", "a>s", 3, lambda v: p.Relay(4, B_ID, bytes.fromhex("a400000009"))),
    ("transport.unregister", "a>s", 4, lambda v: p.Unregister(5)),
    ("transport.keepalive_ack", "s>a", 0, lambda v: p.KeepaliveAck(1, 25, RECOVERED["a.addr"])),
    (
        "transport.list_ack",
        "s>a",
        1,
        lambda v: p.ListAck(2, False, [(2, RECOVERED["b.addr"]), (3, ("2001:db8::3", 6000))]),
    ),
    ("transport.connect_ack", "s>a", 2, lambda v: p.ConnectAck(3, B_ID, v("peer_b.public"), RECOVERED["b.addr"])),
    ("transport.intro", "s>a", 3, lambda v: p.Intro(B_ID, v("peer_b.public"), RECOVERED["b.addr"])),
    ("transport.relay_ack", "s>a", 4, lambda v: p.RelayAck(4)),
    ("transport.relayed", "s>a", 5, lambda v: p.Relayed(B_ID, bytes.fromhex("a400000009"))),
    ("transport.unregister_ack", "s>a", 6, lambda v: p.UnregisterAck(5)),
    ("transport.error", "s>a", 7, lambda v: p.Error(6, 7, "peer 2 is offline")),
    ("transport.message", "a>b", 0, lambda v: p.Message(7, 1_795_000_000_000, "hello, B \u2713")),
    ("transport.probe", "a>b", 1, lambda v: p.Probe(0x0123456789ABCDEF)),
    ("transport.message_ack", "b>a", 0, lambda v: p.MessageAck(7)),
    ("transport.probe_ack", "b>a", 1, lambda v: p.ProbeAck(0x0123456789ABCDEF)),
]


class Vectors(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        with open(VECTORS, encoding="utf-8") as f:
            cls.json = json.load(f)
        cls.server = p.StaticKey.from_private(cls.v("server.private"))
        cls.a = p.StaticKey.from_private(cls.v("peer_a.private"))
        cls.b = p.StaticKey.from_private(cls.v("peer_b.private"))

    @classmethod
    def v(cls, name: str) -> bytes:
        return bytes.fromhex(cls.json[name])

    def expect(self, name: str, got: bytes) -> None:
        self.assertEqual(got.hex(), self.json[name], f"vector {name}")

    # -------------------------------------------------------------- helpers

    def register_pending(self) -> p.PendingInit:
        return p.start_handshake(
            self.a,
            self.server.public,
            RECOVERED["register.sender"],
            p.Register(RECOVERED["register.timestamp"]),
            ephemeral=RECOVERED["register.ephemeral"],
            now=0.0,
        )

    def register_sessions(self) -> tuple[p.Session, p.Session]:
        """(A's session, the server's session) from the REGISTER handshake."""
        pending = self.register_pending()
        accepted = p.read_init(self.server, pending.frame, p.HANDSHAKE_INIT_KINDS)
        resp, server_session = p.answer_init(
            accepted,
            RECOVERED["register.server_index"],
            p.Registered(RECOVERED["a.id"], RECOVERED["keepalive"], RECOVERED["a.addr"]),
            p.WINDOW_SERVER,
            0.0,
            ephemeral=RECOVERED["register.resp_ephemeral"],
        )
        _, a_session = p.read_resp(pending, resp, p.WINDOW_SERVER, 0.0)
        return a_session, server_session

    def hello_pending(self) -> p.PendingInit:
        return p.start_handshake(
            self.a,
            self.b.public,
            RECOVERED["hello.sender"],
            p.Hello(RECOVERED["hello.timestamp"], A_ID),
            ephemeral=RECOVERED["hello.init_ephemeral"],
            now=0.0,
        )

    def hello_sessions(self) -> tuple[p.Session, p.Session]:
        """(A's session, B's session) from the HELLO handshake."""
        pending = self.hello_pending()
        accepted = p.read_init(self.b, pending.frame, {p.K_HELLO})
        resp, b_session = p.answer_init(
            accepted,
            RECOVERED["hello.responder_index"],
            p.HelloAck(B_ID),
            p.WINDOW_DAEMON,
            0.0,
            ephemeral=RECOVERED["hello.resp_ephemeral"],
        )
        _, a_session = p.read_resp(pending, resp, p.WINDOW_DAEMON, 0.0)
        return a_session, b_session

    # ----------------------------------------------------------------- keys

    def test_every_vector_is_checked(self) -> None:
        checked = {
            "cookie.init_with_mac2", "cookie.nonce", "cookie.reply", "cookie.secret", "cookie.value",
            "hello.init", "hello.resp", "key_reply", "key_request",
            "register.init", "register.resp",
            "register.key_initiator_to_responder", "register.key_responder_to_initiator",
        }
        for who in ("server", "peer_a", "peer_b"):
            checked |= {f"{who}.{f}" for f in ("private", "public", "public_base64", "fingerprint")}
        checked |= {name for name, *_ in TRANSPORTS}
        self.assertEqual(set(self.json) - checked, set(), "vectors this test does not rebuild")

    def test_keys_text_and_fingerprints(self) -> None:
        for who, key in (("server", self.server), ("peer_a", self.a), ("peer_b", self.b)):
            self.expect(f"{who}.public", key.public)
            text = p.key_to_text(key.public)
            self.assertEqual(text, self.json[f"{who}.public_base64"])
            self.assertEqual(len(text), 44)
            self.assertEqual(p.key_from_text(text), key.public)
            self.assertEqual(p.fingerprint(key.public), self.json[f"{who}.fingerprint"])
        self.assertEqual(B_KEY_HEX, self.json["peer_b.public"])
        with self.assertRaises(ValueError):
            p.key_from_text(self.json["peer_a.public_base64"][:-1])
        with self.assertRaises(ValueError):
            p.key_from_text(self.json["peer_a.public_base64"].rstrip("=") + "A")

    def test_key_request_and_reply(self) -> None:
        self.expect("key_request", p.key_request())
        self.assertEqual(len(self.v("key_request")), 64)
        self.expect("key_reply", p.key_reply(self.server.public))
        self.assertEqual(p.decode_key_reply(self.v("key_reply")), self.server.public)
        with self.assertRaises(p.Malformed):
            p.decode_key_reply(self.v("key_reply")[:-1])

    # ------------------------------------------------------------- REGISTER

    def test_register_init(self) -> None:
        pending = self.register_pending()
        self.expect("register.init", pending.frame)
        self.assertEqual(len(pending.frame), 142)
        accepted = p.read_init(self.server, self.v("register.init"), p.HANDSHAKE_INIT_KINDS)
        self.assertEqual(accepted.sender, RECOVERED["register.sender"])
        self.assertEqual(accepted.initiator_public, self.a.public)
        self.assertEqual(accepted.payload, p.Register(RECOVERED["register.timestamp"]))
        frame = p.HandshakeInit.decode(self.v("register.init"))
        self.assertEqual(frame.mac2, bytes(16), "no cookie: mac2 is zeros")

    def test_register_resp_and_session_keys(self) -> None:
        pending = self.register_pending()
        accepted = p.read_init(self.server, pending.frame, p.HANDSHAKE_INIT_KINDS)
        resp, server_session = p.answer_init(
            accepted,
            RECOVERED["register.server_index"],
            p.Registered(RECOVERED["a.id"], RECOVERED["keepalive"], RECOVERED["a.addr"]),
            p.WINDOW_SERVER,
            0.0,
            ephemeral=RECOVERED["register.resp_ephemeral"],
        )
        self.expect("register.resp", resp)
        decoded = p.HandshakeResp.decode(resp)
        self.assertEqual((decoded.sender, decoded.receiver), (0x0A0B0C0D, 0x01020304))
        payload, a_session = p.read_resp(self.register_pending(), self.v("register.resp"), p.WINDOW_SERVER, 0.0)
        self.assertEqual(payload, p.Registered(1, 25, ("198.51.100.7", 40000)))
        self.expect("register.key_initiator_to_responder", a_session.send_key)
        self.expect("register.key_responder_to_initiator", a_session.recv_key)
        self.assertEqual(server_session.recv_key, a_session.send_key)
        self.assertEqual(server_session.send_key, a_session.recv_key)

    def test_register_resp_rejects_tampering(self) -> None:
        resp = bytearray(self.v("register.resp"))
        for i in (0, 4, 8, 20, len(resp) - 1):
            bad = bytearray(resp)
            bad[i] ^= 0x01
            with self.assertRaises((p.Malformed, p.Rejected)):
                p.read_resp(self.register_pending(), bytes(bad), p.WINDOW_SERVER, 0.0)
        with self.assertRaises(p.Rejected):  # later than 15 s
            p.read_resp(self.register_pending(), bytes(resp), p.WINDOW_SERVER, 15.5)

    def test_init_checks(self) -> None:
        init = self.v("register.init")
        bad_mac1 = bytearray(init)
        bad_mac1[-20] ^= 1
        with self.assertRaisesRegex(p.Rejected, "mac1"):
            p.read_init(self.server, bytes(bad_mac1), p.HANDSHAKE_INIT_KINDS)
        with self.assertRaisesRegex(p.Rejected, "mac1"):  # to another responder
            p.read_init(self.b, init, p.HANDSHAKE_INIT_KINDS)
        with self.assertRaises(p.Malformed):
            p.read_init(self.server, init[:141], p.HANDSHAKE_INIT_KINDS)
        with self.assertRaises(p.Malformed):  # a daemon wants HELLO, not REGISTER
            p.read_init(self.server, init, {p.K_HELLO})
        # A broken ciphertext with a right mac1 (the sender knows the key).
        body = bytearray(init[:-32])
        body[50] ^= 1
        forged = p.build_init(0x01020304, bytes(body[5:]), self.server.public, None)
        with self.assertRaises(p.Rejected):
            p.read_init(self.server, forged.encode(), p.HANDSHAKE_INIT_KINDS)

    # --------------------------------------------------------------- cookies

    def test_cookie_value_and_reply(self) -> None:
        secret = self.v("cookie.secret")
        cookie = p.cookie_value(secret, RECOVERED["a.addr"])
        self.expect("cookie.value", cookie)
        self.assertEqual(p.cookie_value(secret, ("::ffff:198.51.100.7", 40000)), cookie, "IPv4-mapped counts as 4")
        init_mac1 = p.HandshakeInit.decode(self.v("register.init")).mac1
        reply = p.seal_cookie(RECOVERED["register.sender"], self.v("cookie.nonce"), cookie, self.server.public, init_mac1)
        self.expect("cookie.reply", reply.encode())
        self.assertEqual(len(reply.encode()), 61)
        decoded = p.CookieReply.decode(self.v("cookie.reply"))
        self.assertEqual(decoded.receiver, RECOVERED["register.sender"])
        self.assertEqual(decoded.nonce, self.v("cookie.nonce"))
        self.assertEqual(decoded.open(self.server.public, init_mac1), cookie)
        with self.assertRaises(p.Rejected):  # associated data: the mac1 of the INIT answered
            decoded.open(self.server.public, bytes(16))
        with self.assertRaises(p.Rejected):
            decoded.open(self.a.public, init_mac1)

    def test_init_with_mac2(self) -> None:
        cookie = self.v("cookie.value")
        pending = p.start_handshake(
            self.a,
            self.server.public,
            RECOVERED["cookie.sender"],
            p.Register(RECOVERED["cookie.timestamp"]),
            cookie=cookie,
            ephemeral=RECOVERED["cookie.ephemeral"],
            now=0.0,
        )
        self.expect("cookie.init_with_mac2", pending.frame)
        frame = p.HandshakeInit.decode(self.v("cookie.init_with_mac2"))
        self.assertEqual(frame.mac2, p.MAC(cookie, frame.mac2_input()), "mac2 is keyed by the 16-byte cookie")

        def mac2_ok(f: p.HandshakeInit) -> bool:
            good = p.cookie_value(self.v("cookie.secret"), RECOVERED["a.addr"])
            return p.check_mac(p.MAC(good, f.mac2_input()), f.mac2)

        accepted = p.read_init(self.server, pending.frame, p.HANDSHAKE_INIT_KINDS, cookie_check=mac2_ok)
        self.assertEqual(accepted.payload, p.Register(RECOVERED["cookie.timestamp"]))
        with self.assertRaisesRegex(p.Rejected, "mac2"):
            p.read_init(self.server, self.v("register.init"), p.HANDSHAKE_INIT_KINDS, cookie_check=mac2_ok)

    # ----------------------------------------------------------------- HELLO

    def test_hello_handshake(self) -> None:
        pending = self.hello_pending()
        self.expect("hello.init", pending.frame)
        self.assertEqual(len(pending.frame), 150)
        accepted = p.read_init(self.b, self.v("hello.init"), {p.K_HELLO})
        self.assertEqual(accepted.payload, p.Hello(RECOVERED["hello.timestamp"], A_ID))
        self.assertEqual(accepted.initiator_public, self.a.public)
        resp, _ = p.answer_init(
            accepted,
            RECOVERED["hello.responder_index"],
            p.HelloAck(B_ID),
            p.WINDOW_DAEMON,
            0.0,
            ephemeral=RECOVERED["hello.resp_ephemeral"],
        )
        self.expect("hello.resp", resp)
        self.assertEqual(len(resp), 73 + 9)
        payload, session = p.read_resp(self.hello_pending(), self.v("hello.resp"), p.WINDOW_DAEMON, 0.0)
        self.assertEqual(payload, p.HelloAck(B_ID))
        self.assertEqual((session.local_index, session.remote_index), (0x11111111, 0x22222222))

    # ------------------------------------------------------------- TRANSPORT

    def directions(self) -> dict:
        a_srv, srv = self.register_sessions()
        a_b, b = self.hello_sessions()
        return {
            "a>s": (a_srv.send_key, srv.recv_key, srv.local_index),
            "s>a": (srv.send_key, a_srv.recv_key, a_srv.local_index),
            "a>b": (a_b.send_key, b.recv_key, b.local_index),
            "b>a": (b.send_key, a_b.recv_key, a_b.local_index),
        }

    def test_transport_frames(self) -> None:
        dirs = self.directions()
        for name, direction, counter, make in TRANSPORTS:
            with self.subTest(vector=name):
                send_key, recv_key, receiver = dirs[direction]
                payload = make(self.v)
                frame = p.seal_transport(send_key, receiver, counter, payload.encode())
                self.expect(name, frame)
                decoded = p.Transport.decode(self.v(name))
                self.assertEqual((decoded.receiver, decoded.counter), (receiver, counter))
                plain = p.open_transport(recv_key, decoded)
                self.assertEqual(p.decode_payload(plain), payload)
                if payload.KIND not in (p.K_RELAY, p.K_RELAYED, p.K_MESSAGE):  # these run to the end
                    self.assertEqual(p.decode_payload(payload.encode() + b"\xff\xff"), payload)

    def test_session_replay_window(self) -> None:
        a_srv, srv = self.register_sessions()
        frames = [a_srv.seal(p.Keepalive(i + 1).encode()) for i in range(3)]
        self.expect("transport.keepalive", frames[0])
        for f in (frames[2], frames[0]):
            srv.open(p.Transport.decode(f), 1.0)
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
        for name, _, _, make in TRANSPORTS:
            enc = make(self.v).encode()
            fixed = {p.K_RELAY: 13, p.K_RELAYED: 9, p.K_MESSAGE: 17}.get(enc[0], len(enc))
            if enc[0] == p.K_ERROR:
                fixed = len(enc) - 1
            with self.subTest(vector=name), self.assertRaises(p.Malformed):
                p.decode_payload(enc[: fixed - 1])
        with self.assertRaises(p.Malformed):
            p.decode_payload(b"\x77")
        with self.assertRaises(p.Malformed):  # an address of family 5
            p.decode_payload(bytes.fromhex("9000000001001905c63364079c40"))
        with self.assertRaises(p.Malformed):
            p.decode_payload(p.Message(1, 2, "").encode() + b"\xff")
        self.assertEqual(len(p.Message(1, 2, "\u00e9" * 500).encode()), 1017)
        self.assertEqual(p.encode_addr(("::ffff:10.0.0.1", 7)), bytes.fromhex("040a0000010007"))


def main() -> int:
    result = unittest.main(module=__name__, exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    sys.stderr.flush()
    print(f"vectors: {result.testsRun - failed} passed, {failed} failed")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
