"""Rebuilds every output of docs/protocol-v2-vectors.json from its inputs alone.

Run: `python3 daemon/tests/interop/test_vectors.py` (exit status 0 when all
pass) or `python3 -m unittest discover -s daemon/tests/interop -p 'test_*.py'`.
`PEERD_VECTORS` names another vectors file.

The file holds two objects (docs/protocol.md section 10): `inputs`, every
fixed input as a JSON value, and `outputs`, the bytes that result. `build()`
computes every output from the inputs and the document, nothing else; the
tests compare the two sets of names and every value, check that every input
was read, and decode every frame back with the receiver's keys.

`Inputs` reads the inputs strictly, as section 10 describes every field: an
input of an unknown name, a missing one, a value of the wrong type, a key
that appears twice, or an input the build never read fails the run. Byte
strings are lower-case hex; every u64 (timestamps, ids, counters) is a
string of decimal digits (no sign, no leading zero but in "0", at most
2^64 - 1), read as an exact integer, never through a float; u16 and u32
values (indices, the keepalive) are JSON integers in the range of their
field, never a fraction, a boolean or a string; a role is one of `server`,
`peer_a`, `peer_b`.
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

ROLES = ("server", "peer_a", "peer_b")
HANDSHAKE_NAMES = ("register", "hello")
TRANSPORT_NAME = re.compile(r"transport\.[a-z][a-z_]*")

# Every name `inputs` may hold, and the fields of each object (section 10).
HANDSHAKE_FIELDS = {
    "initiator", "responder", "initiator_ephemeral", "responder_ephemeral",
    "initiator_index", "responder_index", "timestamp",
}
SCHEMA = {
    "server.private": None,
    "peer_a.private": None,
    "peer_b.private": None,
    "register": HANDSHAKE_FIELDS | {"registered"},
    "register.registered": {"id", "keepalive", "addr"},
    "hello": HANDSHAKE_FIELDS | {"initiator_id", "responder_id"},
    "cookie": {"answers", "secret", "nonce", "source", "init_index", "init_ephemeral", "init_timestamp"},
}
TRANSPORT_FIELDS = {"sender", "receiver", "session", "counter", "payload"}


def strict_json(path: Path) -> dict:
    """JSON with no key twice in an object, no fraction or exponent, no NaN."""

    def pairs(items: list) -> dict:
        out: dict = {}
        for key, value in items:
            if key in out:
                raise ValueError(f"{path}: key {key!r} appears twice in one object")
            out[key] = value
        return out

    def no_float(text: str) -> float:
        raise ValueError(f"{path}: {text} is not an integer (inputs hold no fractions)")

    def no_constant(text: str) -> float:
        raise ValueError(f"{path}: {text} is not JSON")

    with open(path, encoding="utf-8") as f:
        return json.load(f, object_pairs_hook=pairs, parse_float=no_float, parse_constant=no_constant)


class Inputs:
    """The `inputs` object, read strictly; remembers which values were read.

    A value is named by its path: `register.initiator_index`,
    `transport.keepalive.counter`, `register.registered.addr`.
    """

    def __init__(self, raw: dict) -> None:
        self.raw = raw
        self.used: set = set()
        self.transports = sorted(k for k in raw if TRANSPORT_NAME.fullmatch(k))
        self.leaves: set = set()
        for name, value in raw.items():
            if name in SCHEMA:
                fields = SCHEMA[name]
            elif name in self.transports:
                fields = TRANSPORT_FIELDS
            else:
                raise ValueError(f"unknown input {name!r}")
            self._walk(name, value, fields)

    def _walk(self, name: str, value, fields) -> None:
        if fields is None:
            if isinstance(value, dict):
                raise ValueError(f"input {name} is an object, not a value")
            self.leaves.add(name)
            return
        if not isinstance(value, dict):
            raise ValueError(f"input {name} is not an object: {value!r}")
        unknown, missing = set(value) - fields, fields - set(value)
        if unknown:
            raise ValueError(f"unknown input(s) {sorted(f'{name}.{k}' for k in unknown)}")
        if missing:
            raise ValueError(f"missing input(s) {sorted(f'{name}.{k}' for k in missing)}")
        for key, inner in value.items():
            path = f"{name}.{key}"
            self._walk(path, inner, SCHEMA.get(path))

    def value(self, path: str):
        """The value at `path` (an object's fields are read one by one)."""
        node = self.raw
        head, rest = path, ""
        # The first component may itself hold a dot ("server.private", "transport.list").
        for name in sorted(self.raw, key=len, reverse=True):
            if path == name or path.startswith(name + "."):
                head, rest = name, path[len(name) + 1 :]
                break
        if head not in node:
            raise KeyError(f"input {path} is missing")
        node = node[head]
        for key in rest.split(".") if rest else []:
            if not isinstance(node, dict) or key not in node:
                raise KeyError(f"input {path} is missing")
            node = node[key]
        if isinstance(node, dict):
            raise ValueError(f"input {path} is an object, read its fields")
        self.used.add(path)
        return node

    def hex(self, path: str, size: int = 0) -> bytes:
        text = self.value(path)
        if not isinstance(text, str) or not re.fullmatch(r"(?:[0-9a-f]{2})*", text):
            raise ValueError(f"input {path} is not lower-case hex: {text!r}")
        value = bytes.fromhex(text)
        if size and len(value) != size:
            raise ValueError(f"input {path} is {len(value)} bytes, not {size}")
        return value

    def number(self, path: str, bits: int) -> int:
        """A u16 or u32: a JSON integer."""
        value = self.value(path)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
            raise ValueError(f"input {path} is not a u{bits}: {value!r}")
        return value

    def u16(self, path: str) -> int:
        return self.number(path, 16)

    def u32(self, path: str) -> int:
        return self.number(path, 32)

    def u64(self, path: str) -> int:
        """A u64: a string of decimal digits (section 10), read exactly."""
        return parse_u64(self.value(path), path)

    def one_of(self, path: str, allowed: tuple) -> str:
        value = self.value(path)
        if value not in allowed:
            raise ValueError(f"input {path} is {value!r}, not one of {list(allowed)}")
        return value

    def addr(self, path: str) -> tuple:
        return parse_addr(self.value(path), path)

    def private(self, who: str) -> p.StaticKey:
        return p.StaticKey.from_private(self.hex(f"{who}.private", 32))

    def roles(self, handshake: str) -> tuple:
        """(initiator, responder) of a handshake; REGISTER goes from a peer to the server,
        HELLO from one peer to the other."""
        initiator = self.one_of(f"{handshake}.initiator", ROLES)
        responder = self.one_of(f"{handshake}.responder", ROLES)
        if handshake == "register" and (responder != "server" or initiator == "server"):
            raise ValueError(f"register goes from a peer to the server, not {initiator} to {responder}")
        if handshake == "hello" and ("server" in (initiator, responder) or initiator == responder):
            raise ValueError(f"hello goes from one peer to another, not {initiator} to {responder}")
        return initiator, responder

    def registered(self) -> p.Registered:
        return p.Registered(
            self.u64("register.registered.id"),
            self.u16("register.registered.keepalive"),
            self.addr("register.registered.addr"),
        )

    def direction(self, name: str) -> tuple:
        """(handshake, sender is its initiator) of the TRANSPORT vector `name`."""
        handshake = self.one_of(f"{name}.session", HANDSHAKE_NAMES)
        sender = self.one_of(f"{name}.sender", ROLES)
        receiver = self.one_of(f"{name}.receiver", ROLES)
        initiator, responder = self.roles(handshake)
        if (sender, receiver) not in ((initiator, responder), (responder, initiator)):
            raise ValueError(f"{name}: {sender} and {receiver} are not the two sides of {handshake}")
        return handshake, sender == initiator


def parse_u64(text, what: str) -> int:
    """A u64 written as section 10 has it: "0" or digits without a leading zero, below 2^64."""
    if not isinstance(text, str) or not re.fullmatch(r"0|[1-9][0-9]{0,19}", text):
        raise ValueError(f"input {what} is not a u64 in a decimal string: {text!r}")
    value = int(text)
    if value >= 1 << 64:
        raise ValueError(f"input {what} is over u64: {text}")
    return value


def parse_addr(text, what: str) -> tuple:
    if not isinstance(text, str):
        raise ValueError(f"{what}: {text!r} is not an \"ip:port\" string")
    m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:([0-9]+)|([0-9.]+):([0-9]+)", text)
    if not m:
        raise ValueError(f"{what}: {text!r} is not ip:port")
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4))
    if port > 0xFFFF:
        raise ValueError(f"{what}: port {port} out of range")
    return p.normal_addr((host, port))


class Built:
    """Every output rebuilt, and what the decoding tests need."""

    def __init__(self, inputs: Inputs) -> None:
        self.inputs = inputs
        self.out: dict = {}
        self.keys = {who: inputs.private(who) for who in ROLES}
        for who, key in self.keys.items():
            self.out[f"{who}.public"] = key.public.hex()
            self.out[f"{who}.public_base64"] = p.key_to_text(key.public)
            self.out[f"{who}.fingerprint"] = p.fingerprint(key.public)
        self.out["key_request"] = p.key_request().hex()
        self.out["key_reply"] = p.key_reply(self.keys["server"].public).hex()
        self.roles = {name: inputs.roles(name) for name in HANDSHAKE_NAMES}
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
        initiator, responder = (self.keys[w] for w in self.roles[name])
        return p.start_handshake(
            initiator, responder.public, i.u32(f"{name}.initiator_index"), self.payloads[name],
            ephemeral=i.hex(f"{name}.initiator_ephemeral", 32), now=0.0,
        )

    def _handshake(self, name: str, payload: p.Payload, answer: p.Payload, window: int) -> None:
        i = self.inputs
        responder = self.keys[self.roles[name][1]]
        self.payloads[name] = payload
        pending = self.pending(name)
        init = pending.frame
        allowed = {p.K_REGISTER} if name == "register" else {p.K_HELLO}
        accepted = p.read_init(responder, init, allowed)
        resp, responder_session = p.answer_init(
            accepted, i.u32(f"{name}.responder_index"), answer, window, 0.0,
            ephemeral=i.hex(f"{name}.responder_ephemeral", 32),
        )
        _, initiator_session = p.read_resp(pending, resp, window, 0.0)
        self.out[f"{name}.init"] = init.hex()
        self.out[f"{name}.resp"] = resp.hex()
        self.sessions[name] = (initiator_session, responder_session)

    def _register(self) -> None:
        self._handshake(
            "register", p.Register(self.inputs.u64("register.timestamp")), self.registered, p.WINDOW_SERVER
        )
        a_session, _ = self.sessions["register"]
        self.out["register.key_initiator_to_responder"] = a_session.send_key.hex()
        self.out["register.key_responder_to_initiator"] = a_session.recv_key.hex()

    def _cookie(self) -> None:
        i = self.inputs
        answered = i.one_of("cookie.answers", HANDSHAKE_NAMES)
        initiator, responder = self.roles[answered]
        if responder != "server":
            raise ValueError(f"cookie.answers names {answered}, a handshake to {responder}: only the server sends cookies")
        cookie = p.cookie_value(i.hex("cookie.secret", 32), i.addr("cookie.source"))
        self.out["cookie.value"] = cookie.hex()
        init = p.HandshakeInit.decode(bytes.fromhex(self.out[f"{answered}.init"]))
        server = self.keys["server"].public
        reply = p.seal_cookie(init.sender, i.hex("cookie.nonce", 24), cookie, server, init.mac1)
        self.out["cookie.reply"] = reply.encode().hex()
        fresh = p.start_handshake(
            self.keys[initiator], server, i.u32("cookie.init_index"),
            p.Register(i.u64("cookie.init_timestamp")), cookie=cookie,
            ephemeral=i.hex("cookie.init_ephemeral", 32), now=0.0,
        )
        self.out["cookie.init_with_mac2"] = fresh.frame.hex()

    def hello_ids(self) -> tuple:
        """(the initiator's peer id: HELLO's `from`, the responder's: HELLO_ACK's `from`)."""
        return self.inputs.u64("hello.initiator_id"), self.inputs.u64("hello.responder_id")

    def peer_ids(self) -> dict:
        """Each peer's id by role: REGISTERED's `id` for the REGISTER initiator,
        HELLO's and HELLO_ACK's `from` for the two sides of the HELLO; where two
        give the id of the same peer they must agree."""
        registering = self.roles["register"][0]
        initiator, responder = self.roles["hello"]
        ids = dict(zip((initiator, responder), self.hello_ids()))
        if ids.setdefault(registering, self.registered.id) != self.registered.id:
            raise ValueError(f"{registering} is id {self.registered.id} in REGISTERED, {ids[registering]} in the HELLO")
        if len(set(ids.values())) != len(ids):
            raise ValueError(f"two peers with one id: {ids}")
        return ids

    def _hello(self) -> None:
        initiator_id, responder_id = self.hello_ids()
        hello = p.Hello(self.inputs.u64("hello.timestamp"), initiator_id)
        self._handshake("hello", hello, p.HelloAck(responder_id), p.WINDOW_DAEMON)

    def direction(self, name: str) -> tuple:
        """(sending Session, receiving Session) of the TRANSPORT vector `name`."""
        handshake, from_initiator = self.inputs.direction(name)
        initiator, responder = self.sessions[handshake]
        return (initiator, responder) if from_initiator else (responder, initiator)

    def _transports(self) -> None:
        self.transports = self.inputs.transports
        for name in self.transports:
            sender, receiver = self.direction(name)
            counter = self.inputs.u64(f"{name}.counter")
            payload = self.inputs.hex(f"{name}.payload")
            frame = p.seal_transport(sender.send_key, receiver.local_index, counter, payload)
            self.out[name] = frame.hex()


class Vectors(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        data = strict_json(VECTORS)
        if set(data) != {"inputs", "outputs"}:
            raise ValueError(f"the vectors file holds {sorted(data)}, not inputs and outputs")
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
        self.assertEqual(self.inputs.leaves - self.inputs.used, set(), "inputs the build never read")

    def test_inputs_are_read_strictly(self) -> None:
        """A changed input is refused, not silently read another way."""
        import copy

        def changed(path: str, value=None, delete: bool = False) -> dict:
            raw = copy.deepcopy(self.inputs.raw)
            *parents, last = path.split("/")
            node = raw
            for key in parents:
                node = node[key]
            if delete:
                del node[last]
            else:
                node[last] = value
            return raw

        bad = {
            "an unknown top-level input": changed("transport_keepalive", {}),
            "an unknown field": changed("register/initiator_idx", 1),
            "a missing field": changed("hello/responder_id", delete=True),
            "a missing nested field": changed("register/registered/keepalive", delete=True),
            "a TRANSPORT vector with an unknown field": changed("transport.list/note", "x"),
        }
        for what, raw in bad.items():
            with self.subTest(what), self.assertRaises(ValueError):
                Built(Inputs(raw))
        wrong_values = {
            "upper-case hex": changed("server.private", self.inputs.raw["server.private"].upper()),
            "odd hex": changed("cookie/nonce", self.inputs.raw["cookie"]["nonce"] + "0"),
            "an index as a string": changed("register/initiator_index", "16909060"),
            "an index over u32": changed("register/initiator_index", 1 << 32),
            "a negative counter": changed("transport.list/counter", "-1"),
            "a counter as a number": changed("transport.list/counter", 1),
            "a timestamp as a number": changed("register/timestamp", 1795000000000000000),
            "a counter with a leading zero": changed("transport.list/counter", "01"),
            "a counter with a sign": changed("transport.list/counter", "+1"),
            "a timestamp over u64": changed("register/timestamp", "18446744073709551616"),
            "a timestamp with an exponent": changed("register/timestamp", "1.795e18"),
            "a boolean id": changed("hello/initiator_id", True),
            "an id as a number": changed("hello/initiator_id", 1),
            "a keepalive over u16": changed("register/registered/keepalive", 1 << 16),
            "an unknown role": changed("hello/responder", "peer_c"),
            "the server saying HELLO": changed("hello/initiator", "server"),
            "a frame on no handshake": changed("transport.list/session", "connect"),
            "a frame between the wrong sides": changed("transport.message/receiver", "server"),
            "an address without a port": changed("cookie/source", "198.51.100.7"),
        }
        for what, raw in wrong_values.items():
            with self.subTest(what), self.assertRaises(ValueError):
                Built(Inputs(raw))
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"peerd-vectors-{os.getpid()}.json"
        try:
            for text in ('{"inputs": {"a": 1, "a": 2}}', '{"inputs": {"a": 1.0}}', '{"inputs": NaN}'):
                path.write_text(text, encoding="utf-8")
                with self.subTest(text), self.assertRaises(ValueError):
                    strict_json(path)
        finally:
            path.unlink(missing_ok=True)

    def test_u64_inputs_are_exact(self) -> None:
        """Section 10: u64 values are decimal strings, read without a float on the way."""
        stamp = self.inputs.u64("register.timestamp")
        self.assertGreater(stamp, 1 << 53, "the vectors hold a timestamp beyond 2^53")
        self.assertEqual(str(stamp), self.inputs.raw["register"]["timestamp"])
        self.assertEqual(parse_u64("9007199254740993", "t"), (1 << 53) + 1, "2^53 + 1 is not rounded")
        self.assertEqual(parse_u64("18446744073709551615", "t"), (1 << 64) - 1)
        self.assertEqual(parse_u64("0", "t"), 0)

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
        self.assertEqual(accepted.sender, self.inputs.u32("register.initiator_index"))
        self.assertEqual(accepted.initiator_public, self.out("peer_a.public"))
        self.assertEqual(accepted.payload, p.Register(self.inputs.u64("register.timestamp")))
        self.assertEqual(p.HandshakeInit.decode(init).mac2, bytes(16), "no cookie: mac2 is zeros")

    def test_register_resp_decodes(self) -> None:
        resp = self.out("register.resp")
        decoded = p.HandshakeResp.decode(resp)
        self.assertEqual(decoded.sender, self.inputs.u32("register.responder_index"))
        self.assertEqual(decoded.receiver, self.inputs.u32("register.initiator_index"))
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

    def test_resp_with_an_error(self) -> None:
        """Section 3.2: an ERROR instead of REGISTERED, its message at most 62 bytes."""
        server = self.built.keys["server"]
        for length in (0, p.MAX_RESP_ERROR_MESSAGE):
            pending = self.built.pending("register")
            accepted = p.read_init(server, pending.frame, {p.K_REGISTER})
            error = p.Error(0, p.ERROR_NUMBERS["internal"], "e" * length)
            resp, _ = p.answer_init(accepted, 7, error, p.WINDOW_SERVER, 0.0)
            self.assertEqual(len(resp), p.RESP_MIN_SERVER + length)
            self.assertLessEqual(len(resp), len(pending.frame), "never longer than the INIT it answers")
            payload, _ = p.read_resp(pending, resp, p.WINDOW_SERVER, 0.0)
            self.assertEqual(payload, error)
        accepted = p.read_init(server, self.built.pending("register").frame, {p.K_REGISTER})
        with self.assertRaises(ValueError):
            p.answer_init(accepted, 7, p.Error(0, 9, "e" * 63), p.WINDOW_SERVER, 0.0)

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
        answered = p.HandshakeInit.decode(self.out(self.inputs.value("cookie.answers") + ".init"))
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
        self.assertEqual(frame.sender, self.inputs.u32("cookie.init_index"))
        self.assertEqual(frame.mac2, p.MAC(cookie, init[:-16]), "mac2 is keyed by the 16-byte cookie")
        padded = p.MAC(cookie + bytes(16), init[:-16])
        self.assertNotEqual(frame.mac2, padded, "a 16-byte key is not the same key padded to 32")

        def mac2_ok(f: p.HandshakeInit) -> bool:
            return p.check_mac(p.MAC(cookie, f.mac2_input()), f.mac2)

        accepted = p.read_init(server, init, {p.K_REGISTER}, cookie_check=mac2_ok)
        self.assertEqual(accepted.payload, p.Register(self.inputs.u64("cookie.init_timestamp")))
        self.assertEqual(accepted.initiator_public, self.out("peer_a.public"))
        with self.assertRaisesRegex(p.Rejected, "mac2"):
            p.read_init(server, self.out("register.init"), {p.K_REGISTER}, cookie_check=mac2_ok)

    # ----------------------------------------------------------------- HELLO

    def test_hello_handshake_decodes(self) -> None:
        b = self.built.keys["peer_b"]
        init, resp = self.out("hello.init"), self.out("hello.resp")
        self.assertEqual((len(init), len(resp)), (150, 82))
        accepted = p.read_init(b, init, {p.K_HELLO})
        a_id, b_id = self.built.hello_ids()
        self.assertEqual(accepted.payload, p.Hello(self.inputs.u64("hello.timestamp"), a_id))
        self.assertEqual(accepted.initiator_public, self.out("peer_a.public"))
        payload, session = p.read_resp(self.built.pending("hello"), resp, p.WINDOW_DAEMON, 0.0)
        self.assertEqual(payload, p.HelloAck(b_id))
        self.assertEqual(
            (session.local_index, session.remote_index),
            (self.inputs.u32("hello.initiator_index"), self.inputs.u32("hello.responder_index")),
        )

    # ------------------------------------------------------------- TRANSPORT

    def test_every_kind_has_a_transport_vector(self) -> None:
        kinds = {self.inputs.hex(f"{n}.payload")[0] for n in self.built.transports}
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
                self.assertEqual(decoded.counter, self.inputs.u64(f"{name}.counter"))
                plain = receiver.open(decoded, 0.0)
                self.assertEqual(plain, self.inputs.hex(f"{name}.payload"))
                payload = p.decode_payload(plain, p.TRANSPORT_KINDS)
                self.assertEqual(payload.encode(), plain, "decode then encode gives the same bytes")
                self.assertEqual(len(frame), p.TRANSPORT_OVERHEAD + len(plain))
                with self.assertRaises(p.Rejected):  # the same frame again: the replay window
                    receiver.open(decoded, 0.0)

    def payload(self, name: str) -> p.Payload:
        return p.decode_payload(self.inputs.hex(f"{name}.payload"))

    def test_transport_directions(self) -> None:
        """Requests go from a peer to the server, replies and INTRO/RELAYED/ERROR
        back, MESSAGE and PROBE between the peers (sections 5 and 6)."""
        requests = {p.K_KEEPALIVE, p.K_LIST, p.K_CONNECT, p.K_UNREGISTER, p.K_RELAY}
        from_server = {p.K_KEEPALIVE_ACK, p.K_LIST_ACK, p.K_CONNECT_ACK, p.K_UNREGISTER_ACK, p.K_RELAY_ACK,
                       p.K_INTRO, p.K_RELAYED, p.K_ERROR}
        for name in self.built.transports:
            with self.subTest(vector=name):
                kind = self.inputs.hex(f"{name}.payload")[0]
                sender, receiver = self.inputs.value(f"{name}.sender"), self.inputs.value(f"{name}.receiver")
                if kind in requests:
                    self.assertEqual(receiver, "server")
                elif kind in from_server:
                    self.assertEqual(sender, "server")
                else:
                    self.assertNotIn("server", (sender, receiver))

    def test_peer_ids_agree(self) -> None:
        ids = self.built.peer_ids()
        self.assertEqual(set(ids), {"peer_a", "peer_b"})

    def ids(self, name: str) -> tuple:
        """(the id of the peer that sends or receives vector `name`, the other peer's id)."""
        ids = self.built.peer_ids()
        sender, receiver = self.inputs.value(f"{name}.sender"), self.inputs.value(f"{name}.receiver")
        me = sender if sender != "server" else receiver
        (other,) = set(ids) - {me}
        return ids[me], ids[other]

    def test_transport_payloads_agree_with_the_handshakes(self) -> None:
        """The values inside the frames are those of the rest of the file."""
        registered = self.inputs.registered()
        keys = {who: self.out(f"{who}.public") for who in ("peer_a", "peer_b")}
        key_of = {i: keys[who] for who, i in self.built.peer_ids().items()}
        ka = self.payload("transport.keepalive_ack")
        self.assertEqual((ka.keepalive, ka.addr), (registered.keepalive, registered.addr))
        self.assertEqual(self.payload("transport.keepalive").seq, ka.seq)
        pairs = [("keepalive", "keepalive_ack"), ("list", "list_ack"), ("connect", "connect_ack"),
                 ("relay", "relay_ack"), ("unregister", "unregister_ack")]
        for request, reply in pairs:
            self.assertEqual(self.payload(f"transport.{request}").seq, self.payload(f"transport.{reply}").seq)
            self.assertEqual(self.inputs.value(f"transport.{request}.sender"),
                             self.inputs.value(f"transport.{reply}.receiver"), "a reply goes to the asker")
        asker, target = self.ids("transport.connect")
        ack = self.payload("transport.connect_ack")
        self.assertEqual((ack.target, ack.key), (target, key_of[target]))
        self.assertEqual(self.payload("transport.connect").target, target)
        me, other = self.ids("transport.intro")
        intro = self.payload("transport.intro")
        self.assertEqual((intro.sender, intro.key), (other, key_of[other]))
        me, other = self.ids("transport.list_ack")
        listing = self.payload("transport.list_ack")
        self.assertNotIn(me, [i for i, _ in listing.entries], "LIST never shows the asker")
        self.assertIn(other, [i for i, _ in listing.entries])
        msg, msg_ack = self.payload("transport.message"), self.payload("transport.message_ack")
        self.assertEqual(msg.msg, msg_ack.msg)
        self.assertEqual(self.payload("transport.probe").nonce, self.payload("transport.probe_ack").nonce)

    def test_relay_and_relayed_carry_the_hello_handshake(self) -> None:
        asker, target = self.ids("transport.relay")
        relay, relayed = self.payload("transport.relay"), self.payload("transport.relayed")
        self.assertEqual(relay.target, target)
        self.assertEqual(relay.data, self.out("hello.init"), "RELAY carries the HELLO INIT")
        self.assertEqual(relayed.sender, target)
        self.assertEqual(relayed.data, self.out("hello.resp"), "RELAYED brings the HELLO_ACK back")
        responder = self.built.keys[self.built.roles["hello"][1]]
        accepted = p.read_init(responder, relay.data, {p.K_HELLO})
        self.assertEqual(accepted.payload.sender, asker, "an INIT in RELAYED: `from` equals RELAYED's `from`")
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
        self.assertEqual(p.RESP_OVERHEAD + 7 + p.MAX_RESP_ERROR_MESSAGE, p.INIT_MIN_SERVER,
                         "an ERROR RESP of the longest message is as long as a REGISTER INIT")
        self.assertEqual(p.encode_addr(("::ffff:10.0.0.1", 7)), bytes.fromhex("040a0000010007"))

    def test_v1_answer(self) -> None:
        self.assertEqual(
            p.v1_answer(7),
            b'{"v":1,"type":"ERROR","seq":7,"code":"unsupported_version",'
            b'"message":"this server speaks peerd protocol v2"}',
        )
        cases = [(b'{"v":1,"seq":42}', 42), (b'{"seq":4294967295}', 4294967295), (b'{"seq":4294967296}', 0),
                 (b'{"seq":-1}', 0), (b'{"seq":1.5}', 0), (b'{"seq":"3"}', 0), (b'{"seq":true}', 0),
                 (b'{"seq":42.0}', 0), (b'{"seq":4.2e1}', 0), (b'{"seq":42e0}', 0), (b'{"seq":042}', 0),
                 (b'{"seq":1,"seq":9}', 9), (b'{"seq":9,"seq":"x"}', 0), (b'{"seq":7,"x":NaN}', 0),
                 (b'{"seq":7} ', 7), (b'{"seq":7}x', 0), (b'{"a":{"seq":7}}', 0), (b'{"seq":7,"x":"\xff"}', 0),
                 (b"[1,2]", 0), (b"{", 0)]
        # Section 7: nesting depth at most 127 (the outer object counts 1).
        nested = lambda n: b'{"seq":7,"x":' + b"[" * n + b"]" * n + b"}"  # noqa: E731
        cases += [(nested(126), 7), (nested(127), 0), (nested(2000), 0),
                  (b'{"x":' + b"[" * 127 + b"]" * 127 + b',"x":1,"seq":7}', 0)]
        # Lone surrogates anywhere (a name, a value later replaced) make it invalid.
        cases += [(rb'{"seq":7,"x":"\ud83d\ude00"}', 7), (rb'{"seq":7,"x":"\ud800"}', 0),
                  (rb'{"seq":7,"x":"\udc00"}', 0), (rb'{"seq":7,"\ud800":1}', 0),
                  (rb'{"x":"\ud800\u0041","x":1,"seq":7}', 0), (rb'{"seq":7,"x":"\\ud800"}', 7),
                  (rb'{"se\u0071":7}', 7)]
        # Numbers must be finite as doubles; big integers elsewhere are fine.
        cases += [(b'{"seq":7,"x":1e308}', 7), (b'{"seq":7,"x":1e309}', 0), (b'{"seq":7,"x":-1e309}', 0),
                  (b'{"seq":7,"x":1e-400}', 7), (b'{"seq":7,"x":1' + b"0" * 308 + b"}", 7),
                  (b'{"seq":7,"x":1' + b"0" * 309 + b"}", 0), (b'{"seq":7,"x":123456789012345678901234567890}', 7)]
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
