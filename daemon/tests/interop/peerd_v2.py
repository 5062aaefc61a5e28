"""peerd wire protocol version 2, written from docs/protocol.md alone.

This is an independent implementation of the codec: keys and their text,
fingerprints, HASH and MAC, the Noise IK handshake (Noise revision 34,
Noise_IK_25519_ChaChaPoly_BLAKE2s, with the HandshakeState, SymmetricState
and CipherState written out here from the Noise specification), mac1 and
mac2, cookies, every frame of sections 2 to 4, every payload of sections 3,
5 and 6, and the replay window. It does no I/O: `peerd_v2_node.py` puts it on
UDP sockets.

Primitives come from two packages: `cryptography` (X25519, ChaCha20-Poly1305)
and `PyNaCl` (XChaCha20-Poly1305, IETF construction, for COOKIE_REPLY).
BLAKE2s and HMAC come from the standard library.

Section numbers in comments refer to docs/protocol.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import math
import os
import struct
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    import nacl.bindings as _sodium
    import nacl.exceptions as _sodium_errors
except ImportError as err:  # pragma: no cover - reported to the user
    raise ImportError(
        f"peerd_v2 needs the Python packages 'cryptography' and 'PyNaCl' ({err}); "
        "install them with: python3 -m pip install 'cryptography==48.0.0' 'PyNaCl==1.6.2'"
    ) from err

# ---------------------------------------------------------------------------
# Section 1 and 9: constants
# ---------------------------------------------------------------------------

PROTOCOL_VERSION = 2
PROLOGUE = b"peerd v2"
NOISE_PROTOCOL_NAME = b"Noise_IK_25519_ChaChaPoly_BLAKE2s"
MAX_DATAGRAM = 1200
MAX_TEXT = 1000
MAX_ERROR_MESSAGE = 160
# Section 3.2: an ERROR in a HANDSHAKE_RESP from the server carries at most 62
# bytes of message, so that the RESP (73 + 7 + 62 = 142 bytes) is never
# longer than the INIT it answers.
MAX_RESP_ERROR_MESSAGE = 62

# Frame types (first byte, section 2).
HANDSHAKE_INIT = 0xA1
HANDSHAKE_RESP = 0xA2
COOKIE_REPLY = 0xA3
TRANSPORT = 0xA4
KEY_REQUEST = 0xA5
KEY_REPLY = 0xA6

# Sizes of the fixed frames.
INIT_OVERHEAD = 133  # HANDSHAKE_INIT is 133 + P bytes
RESP_OVERHEAD = 73  # HANDSHAKE_RESP is 1 + 4 + 4 + 48 + P + 16 = 73 + P bytes
TRANSPORT_OVERHEAD = 29  # TRANSPORT is 29 + N bytes
COOKIE_REPLY_LEN = 61
KEY_REQUEST_MIN = 64
# Section 3.3: the shortest handshake frames each receiver accepts.
INIT_MIN_SERVER = 142  # REGISTER: 133 + 9
INIT_MIN_DAEMON = 150  # HELLO: 133 + 17
RESP_MIN_SERVER = 80  # an ERROR with an empty message: 73 + 7
RESP_MIN_DAEMON = 82  # HELLO_ACK: 73 + 9
KEY_REPLY_LEN = 34
MAC_LEN = 16
KEY_LEN = 32
TAG_LEN = 16

# Replay windows (section 4).
WINDOW_DAEMON = 2048
WINDOW_SERVER = 128

# Timers (section 9), in seconds.
REKEY_AFTER = 600.0
REJECT_AFTER = 900.0
COOKIE_LIFETIME = 115.0
COOKIE_SECRET_LIFETIME = 120.0
PENDING_HANDSHAKE = 15.0
REQUEST_RETRY_FIRST = 0.25
REQUEST_TRIES = 5
MESSAGE_RETRY_FIRST = 0.2
MESSAGE_RETRY_MAX = 5.0
MAX_COUNTER = 1 << 60

# Payload kinds.
K_REGISTER = 0x01
K_HELLO = 0x02
K_REGISTERED = 0x81
K_HELLO_ACK = 0x82
K_KEEPALIVE = 0x10
K_LIST = 0x11
K_CONNECT = 0x12
K_UNREGISTER = 0x13
K_RELAY = 0x14
K_KEEPALIVE_ACK = 0x90
K_LIST_ACK = 0x91
K_CONNECT_ACK = 0x92
K_UNREGISTER_ACK = 0x93
K_RELAY_ACK = 0x94
K_INTRO = 0x98
K_RELAYED = 0x99
K_ERROR = 0x9F
K_MESSAGE = 0x20
K_MESSAGE_ACK = 0x21
K_PROBE = 0x22
K_PROBE_ACK = 0x23

# Error codes (section 5.4).
ERROR_CODES = {
    1: "bad_request",
    2: "unknown_type",
    3: "unsupported_version",
    4: "too_large",
    5: "unauthorized",
    6: "unknown_peer",
    7: "peer_offline",
    8: "rate_limited",
    9: "internal",
}
ERROR_NUMBERS = {name: code for code, name in ERROR_CODES.items()}


class Malformed(ValueError):
    """A frame or payload that does not follow the specification."""


class Rejected(ValueError):
    """A frame that is well formed but fails authentication or a check."""


# ---------------------------------------------------------------------------
# Section 1: HASH, MAC, keys, fingerprints, text form
# ---------------------------------------------------------------------------


def HASH(data: bytes) -> bytes:
    """BLAKE2s-256, no key."""
    return hashlib.blake2s(data).digest()


def MAC(key: bytes, data: bytes) -> bytes:
    """Keyed BLAKE2s with a 16-byte output (RFC 7693 keyed mode)."""
    return hashlib.blake2s(data, key=key, digest_size=MAC_LEN).digest()


def x25519_public(private: bytes) -> bytes:
    """The X25519 public key of a 32-byte private key."""
    return (
        X25519PrivateKey.from_private_bytes(private)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def x25519(private: bytes, public: bytes) -> bytes:
    """The X25519 shared secret (Noise's DH)."""
    return X25519PrivateKey.from_private_bytes(private).exchange(
        X25519PublicKey.from_public_bytes(public)
    )


@dataclass(frozen=True)
class StaticKey:
    """An X25519 key pair; repr hides the private half."""

    private: bytes = field(repr=False)
    public: bytes

    @staticmethod
    def from_private(private: bytes) -> "StaticKey":
        if len(private) != KEY_LEN:
            raise ValueError("an X25519 private key is 32 bytes")
        return StaticKey(bytes(private), x25519_public(private))

    @staticmethod
    def generate() -> "StaticKey":
        return StaticKey.from_private(os.urandom(KEY_LEN))


def key_to_text(public: bytes) -> str:
    """Section 1.1: standard base64 with padding, 44 characters."""
    if len(public) != KEY_LEN:
        raise ValueError("a public key is 32 bytes")
    return base64.b64encode(public).decode("ascii")


def key_from_text(text: str) -> bytes:
    """The inverse of `key_to_text`; strict (no whitespace, padding required)."""
    text = text.strip()
    if len(text) != 44:
        raise ValueError(f"a key's text is 44 characters of base64, not {len(text)}")
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as err:
        raise ValueError(f"not base64: {err}") from err
    if len(raw) != KEY_LEN or base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not the canonical base64 of a 32-byte key")
    return raw


def fingerprint(public: bytes) -> str:
    """Section 1.1: first 16 bytes of HASH("peerd fingerprint v2" ‖ K) as 8 groups of 4 hex digits."""
    digits = HASH(b"peerd fingerprint v2" + public)[:16].hex()
    return ":".join(digits[i : i + 4] for i in range(0, 32, 4))


# ---------------------------------------------------------------------------
# Section 1.1: addresses
# ---------------------------------------------------------------------------

Addr = tuple  # (ip text, port)


def encode_addr(addr: Addr) -> bytes:
    """ADDR: family 4 (4 + 2 bytes) or 6 (16 + 2); IPv4-mapped written as 4."""
    host, port = addr[0], addr[1]
    ip = ipaddress.ip_address(host.split("%", 1)[0] if isinstance(host, str) else host)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not 0 <= port <= 0xFFFF:
        raise ValueError(f"port {port} out of range")
    if isinstance(ip, ipaddress.IPv4Address):
        return b"\x04" + ip.packed + struct.pack(">H", port)
    return b"\x06" + ip.packed + struct.pack(">H", port)


def decode_addr(buf: bytes, off: int) -> tuple[Addr, int]:
    """Reads an ADDR at `off`; returns it and the offset after it."""
    if off >= len(buf):
        raise Malformed("address missing")
    family = buf[off]
    if family == 4:
        end = off + 7
        if end > len(buf):
            raise Malformed("IPv4 address too short")
        ip = str(ipaddress.IPv4Address(buf[off + 1 : off + 5]))
    elif family == 6:
        end = off + 19
        if end > len(buf):
            raise Malformed("IPv6 address too short")
        ip = str(ipaddress.IPv6Address(buf[off + 1 : off + 17]))
    else:
        raise Malformed(f"address family {family}")
    (port,) = struct.unpack(">H", buf[end - 2 : end])
    return (ip, port), end


def normal_addr(addr: Addr) -> Addr:
    """A socket address as ADDR would carry it (IPv4-mapped becomes IPv4)."""
    decoded, _ = decode_addr(encode_addr(addr), 0)
    return decoded


def ip_port_bytes(addr: Addr) -> bytes:
    """`ip ‖ port` of section 3.4 (4 or 16 bytes, then u16)."""
    return encode_addr(addr)[1:]


# ---------------------------------------------------------------------------
# Noise revision 34: CipherState, SymmetricState, HandshakeState (IK only)
# ---------------------------------------------------------------------------

HASHLEN = 32


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.blake2s).digest()


def hkdf(chaining_key: bytes, ikm: bytes, outputs: int) -> tuple[bytes, ...]:
    """Noise section 4.3 HKDF with HMAC-BLAKE2s."""
    temp = _hmac(chaining_key, ikm)
    out1 = _hmac(temp, b"\x01")
    out2 = _hmac(temp, out1 + b"\x02")
    if outputs == 2:
        return out1, out2
    out3 = _hmac(temp, out2 + b"\x03")
    return out1, out2, out3


def chacha_nonce(n: int) -> bytes:
    """Noise's ChaChaPoly nonce: 32 zero bits then the 64-bit counter, little-endian."""
    return b"\x00\x00\x00\x00" + struct.pack("<Q", n)


class CipherState:
    """Noise section 5.1."""

    def __init__(self, key: Optional[bytes] = None) -> None:
        self.k = key
        self.n = 0

    def has_key(self) -> bool:
        return self.k is not None

    def encrypt_with_ad(self, ad: bytes, plaintext: bytes) -> bytes:
        if self.k is None:
            return plaintext
        out = ChaCha20Poly1305(self.k).encrypt(chacha_nonce(self.n), plaintext, ad)
        self.n += 1
        return out

    def decrypt_with_ad(self, ad: bytes, ciphertext: bytes) -> bytes:
        if self.k is None:
            return ciphertext
        try:
            out = ChaCha20Poly1305(self.k).decrypt(chacha_nonce(self.n), ciphertext, ad)
        except InvalidTag as err:
            raise Rejected("noise decryption failed") from err
        self.n += 1
        return out


class SymmetricState:
    """Noise section 5.2."""

    def __init__(self, protocol_name: bytes) -> None:
        if len(protocol_name) <= HASHLEN:
            self.h = protocol_name + b"\x00" * (HASHLEN - len(protocol_name))
        else:
            self.h = HASH(protocol_name)
        self.ck = self.h
        self.cipher = CipherState()

    def mix_key(self, ikm: bytes) -> None:
        self.ck, temp_k = hkdf(self.ck, ikm, 2)
        self.cipher = CipherState(temp_k[:32])

    def mix_hash(self, data: bytes) -> None:
        self.h = HASH(self.h + data)

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        ciphertext = self.cipher.encrypt_with_ad(self.h, plaintext)
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        plaintext = self.cipher.decrypt_with_ad(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return plaintext

    def split(self) -> tuple[bytes, bytes]:
        k1, k2 = hkdf(self.ck, b"", 2)
        return k1[:32], k2[:32]


class HandshakeState:
    """Noise section 5.3 for the one pattern peerd uses:

        IK:
          <- s
          ...
          -> e, es, s, ss
          <- e, ee, se

    `ephemeral` fixes the ephemeral private key (test vectors); by default a
    fresh random one is drawn when message 1 (initiator) or 2 (responder) is
    written.
    """

    def __init__(
        self,
        initiator: bool,
        s: StaticKey,
        rs: Optional[bytes] = None,
        ephemeral: Optional[bytes] = None,
        prologue: bytes = PROLOGUE,
    ) -> None:
        if initiator and rs is None:
            raise ValueError("an IK initiator must know the responder's static key")
        self.initiator = initiator
        self.sym = SymmetricState(NOISE_PROTOCOL_NAME)
        self.sym.mix_hash(prologue)
        self.s = s
        self.e: Optional[StaticKey] = None
        self._fixed_e = ephemeral
        self.rs = rs
        self.re: Optional[bytes] = None
        # Pre-message "<- s": the responder's static key.
        self.sym.mix_hash(rs if initiator else s.public)

    def _new_e(self) -> StaticKey:
        if self._fixed_e is not None:
            return StaticKey.from_private(self._fixed_e)
        return StaticKey.generate()

    # Message 1: -> e, es, s, ss
    def write_message_1(self, payload: bytes) -> bytes:
        assert self.initiator
        self.e = self._new_e()
        out = self.e.public
        self.sym.mix_hash(self.e.public)
        self.sym.mix_key(x25519(self.e.private, self.rs))
        out += self.sym.encrypt_and_hash(self.s.public)
        self.sym.mix_key(x25519(self.s.private, self.rs))
        out += self.sym.encrypt_and_hash(payload)
        return out

    def read_message_1(self, message: bytes) -> bytes:
        assert not self.initiator
        if len(message) < 32 + 48 + 16:
            raise Malformed("noise message 1 too short")
        self.re = bytes(message[:32])
        self.sym.mix_hash(self.re)
        self.sym.mix_key(x25519(self.s.private, self.re))
        self.rs = self.sym.decrypt_and_hash(message[32:80])
        self.sym.mix_key(x25519(self.s.private, self.rs))
        return self.sym.decrypt_and_hash(message[80:])

    # Message 2: <- e, ee, se
    def write_message_2(self, payload: bytes) -> tuple[bytes, tuple[bytes, bytes]]:
        assert not self.initiator
        self.e = self._new_e()
        out = self.e.public
        self.sym.mix_hash(self.e.public)
        self.sym.mix_key(x25519(self.e.private, self.re))
        self.sym.mix_key(x25519(self.e.private, self.rs))
        out += self.sym.encrypt_and_hash(payload)
        return out, self.sym.split()

    def read_message_2(self, message: bytes) -> tuple[bytes, tuple[bytes, bytes]]:
        assert self.initiator
        if len(message) < 32 + 16:
            raise Malformed("noise message 2 too short")
        self.re = bytes(message[:32])
        self.sym.mix_hash(self.re)
        self.sym.mix_key(x25519(self.e.private, self.re))
        self.sym.mix_key(x25519(self.s.private, self.re))
        payload = self.sym.decrypt_and_hash(message[32:])
        return payload, self.sym.split()


# ---------------------------------------------------------------------------
# Sections 3.1, 3.2: mac1, mac2
# ---------------------------------------------------------------------------


def mac1_key(public: bytes) -> bytes:
    return HASH(b"peerd mac1 v2" + public)


def cookie_key(server_public: bytes) -> bytes:
    return HASH(b"peerd cookie v2" + server_public)


def check_mac(expected: bytes, got: bytes) -> bool:
    return hmac.compare_digest(expected, got)


# ---------------------------------------------------------------------------
# Section 3: handshake frames
# ---------------------------------------------------------------------------


@dataclass
class HandshakeInit:
    sender: int
    noise: bytes  # Noise message 1: 96 + P bytes
    mac1: bytes
    mac2: bytes

    def encode(self) -> bytes:
        return bytes([HANDSHAKE_INIT]) + struct.pack(">I", self.sender) + self.noise + self.mac1 + self.mac2

    @staticmethod
    def decode(buf: bytes) -> "HandshakeInit":
        if len(buf) < INIT_OVERHEAD or buf[0] != HANDSHAKE_INIT:
            raise Malformed("not a HANDSHAKE_INIT")
        (sender,) = struct.unpack(">I", buf[1:5])
        return HandshakeInit(sender, bytes(buf[5:-32]), bytes(buf[-32:-16]), bytes(buf[-16:]))

    def mac1_input(self) -> bytes:
        return self.encode()[:-32]

    def mac2_input(self) -> bytes:
        return self.encode()[:-16]


def build_init(sender: int, noise: bytes, responder_public: bytes, cookie: Optional[bytes]) -> HandshakeInit:
    """Section 3.1: a HANDSHAKE_INIT with mac1, and mac2 when a cookie is held."""
    frame = HandshakeInit(sender, noise, b"", b"")
    body = bytes([HANDSHAKE_INIT]) + struct.pack(">I", sender) + noise
    frame.mac1 = MAC(mac1_key(responder_public), body)
    frame.mac2 = MAC(cookie, body + frame.mac1) if cookie is not None else bytes(MAC_LEN)
    return frame


@dataclass
class HandshakeResp:
    sender: int
    receiver: int
    noise: bytes  # Noise message 2: 48 + P bytes
    mac1: bytes

    def encode(self) -> bytes:
        return bytes([HANDSHAKE_RESP]) + struct.pack(">II", self.sender, self.receiver) + self.noise + self.mac1

    @staticmethod
    def decode(buf: bytes) -> "HandshakeResp":
        # The smallest payload a RESP carries is HELLO_ACK or ERROR (9 bytes or more).
        if len(buf) < RESP_OVERHEAD + 1 or buf[0] != HANDSHAKE_RESP:
            raise Malformed("not a HANDSHAKE_RESP")
        sender, receiver = struct.unpack(">II", buf[1:9])
        return HandshakeResp(sender, receiver, bytes(buf[9:-16]), bytes(buf[-16:]))


def build_resp(sender: int, receiver: int, noise: bytes, initiator_public: bytes) -> HandshakeResp:
    body = bytes([HANDSHAKE_RESP]) + struct.pack(">II", sender, receiver) + noise
    return HandshakeResp(sender, receiver, noise, MAC(mac1_key(initiator_public), body))


# ---------------------------------------------------------------------------
# Section 3.4: cookies
# ---------------------------------------------------------------------------


def cookie_value(secret: bytes, source: Addr) -> bytes:
    """The cookie for a source address: MAC(secret, ip ‖ port)."""
    return MAC(secret, ip_port_bytes(source))


@dataclass
class CookieReply:
    receiver: int
    nonce: bytes  # 24 bytes
    sealed: bytes  # 16-byte cookie encrypted, then the 16-byte tag

    def encode(self) -> bytes:
        return bytes([COOKIE_REPLY]) + struct.pack(">I", self.receiver) + self.nonce + self.sealed

    @staticmethod
    def decode(buf: bytes) -> "CookieReply":
        if len(buf) != COOKIE_REPLY_LEN or buf[0] != COOKIE_REPLY:
            raise Malformed("not a COOKIE_REPLY")
        (receiver,) = struct.unpack(">I", buf[1:5])
        return CookieReply(receiver, bytes(buf[5:29]), bytes(buf[29:61]))

    def open(self, server_public: bytes, init_mac1: bytes) -> bytes:
        """The cookie, or Rejected when it does not decrypt."""
        try:
            return _sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
                self.sealed, init_mac1, self.nonce, cookie_key(server_public)
            )
        except _sodium_errors.CryptoError as err:
            raise Rejected("COOKIE_REPLY does not decrypt") from err


def seal_cookie(receiver: int, nonce: bytes, cookie: bytes, server_public: bytes, init_mac1: bytes) -> CookieReply:
    sealed = _sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        cookie, init_mac1, nonce, cookie_key(server_public)
    )
    return CookieReply(receiver, nonce, sealed)


# ---------------------------------------------------------------------------
# Section 3.5: KEY_REQUEST, KEY_REPLY
# ---------------------------------------------------------------------------


def key_request(length: int = KEY_REQUEST_MIN) -> bytes:
    """A KEY_REQUEST of `length` bytes: 0xA5 then zeros (from 64 to MAX_DATAGRAM bytes to be answered)."""
    return bytes([KEY_REQUEST]) + bytes(length - 1)


def key_reply(server_public: bytes) -> bytes:
    return bytes([KEY_REPLY, PROTOCOL_VERSION]) + server_public


def decode_key_reply(buf: bytes) -> bytes:
    """The server key in a KEY_REPLY (version 2, 34 bytes)."""
    if len(buf) != KEY_REPLY_LEN or buf[0] != KEY_REPLY:
        raise Malformed("not a KEY_REPLY")
    if buf[1] != PROTOCOL_VERSION:
        raise Malformed(f"KEY_REPLY of version {buf[1]}")
    return bytes(buf[2:34])


# ---------------------------------------------------------------------------
# Section 4: TRANSPORT and the replay window
# ---------------------------------------------------------------------------


@dataclass
class Transport:
    receiver: int
    counter: int
    sealed: bytes

    def encode(self) -> bytes:
        return bytes([TRANSPORT]) + struct.pack(">IQ", self.receiver, self.counter) + self.sealed

    @staticmethod
    def decode(buf: bytes) -> "Transport":
        if len(buf) < TRANSPORT_OVERHEAD + 1 or buf[0] != TRANSPORT:
            raise Malformed("not a TRANSPORT frame")
        receiver, counter = struct.unpack(">IQ", buf[1:13])
        return Transport(receiver, counter, bytes(buf[13:]))


def seal_transport(key: bytes, receiver: int, counter: int, payload: bytes) -> bytes:
    sealed = ChaCha20Poly1305(key).encrypt(chacha_nonce(counter), payload, b"")
    return Transport(receiver, counter, sealed).encode()


def open_transport(key: bytes, frame: Transport) -> bytes:
    try:
        return ChaCha20Poly1305(key).decrypt(chacha_nonce(frame.counter), frame.sealed, b"")
    except InvalidTag as err:
        raise Rejected("TRANSPORT does not decrypt") from err


class ReplayWindow:
    """Section 4: rejects a counter already accepted or `size` or more below the highest."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.highest = -1
        self.seen: set[int] = set()

    def check(self, counter: int) -> bool:
        if counter >= MAX_COUNTER:
            return False
        if self.highest >= 0 and counter <= self.highest - self.size:
            return False
        return counter not in self.seen

    def accept(self, counter: int) -> None:
        self.seen.add(counter)
        if counter > self.highest:
            self.highest = counter
            floor = self.highest - self.size
            self.seen = {c for c in self.seen if c > floor}


@dataclass
class Session:
    """One side of an established session (section 4)."""

    local_index: int
    remote_index: int
    send_key: bytes = field(repr=False)
    recv_key: bytes = field(repr=False)
    window_size: int
    created: float
    peer_public: bytes
    # Section 3, confirmation: the initiator may send at once; a responder
    # only after a TRANSPORT frame has arrived on the session.
    confirmed: bool = False
    send_counter: int = 0
    window: ReplayWindow = field(init=False)

    def __post_init__(self) -> None:
        self.window = ReplayWindow(self.window_size)

    def seal(self, payload: bytes) -> bytes:
        if self.send_counter >= MAX_COUNTER:
            raise Rejected("session exhausted")
        frame = seal_transport(self.send_key, self.remote_index, self.send_counter, payload)
        self.send_counter += 1
        return frame

    def open(self, frame: Transport, now: float) -> bytes:
        """The payload of an authenticated frame; Rejected otherwise (nothing changes then)."""
        if now - self.created > REJECT_AFTER:
            raise Rejected("session older than REJECT_AFTER")
        payload = open_transport(self.recv_key, frame)
        if not self.window.check(frame.counter):
            raise Rejected(f"counter {frame.counter} fails the replay window")
        self.window.accept(frame.counter)
        self.confirmed = True
        return payload


# ---------------------------------------------------------------------------
# Payloads (sections 3.1, 3.2, 5.2, 6)
# ---------------------------------------------------------------------------


class _Reader:
    def __init__(self, buf: bytes, name: str) -> None:
        self.buf = buf
        self.off = 1  # after the kind byte
        self.name = name

    def take(self, n: int) -> bytes:
        if self.off + n > len(self.buf):
            raise Malformed(f"{self.name}: payload too short")
        out = self.buf[self.off : self.off + n]
        self.off += n
        return bytes(out)

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack(">H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack(">Q", self.take(8))[0]

    def addr(self) -> Addr:
        addr, self.off = decode_addr(self.buf, self.off)
        return addr

    def rest(self) -> bytes:
        out = bytes(self.buf[self.off :])
        self.off = len(self.buf)
        return out


@dataclass
class Register:
    timestamp: int
    KIND = K_REGISTER

    def encode(self) -> bytes:
        return struct.pack(">BQ", self.KIND, self.timestamp)

    @staticmethod
    def read(r: _Reader) -> "Register":
        return Register(r.u64())


@dataclass
class Hello:
    timestamp: int
    sender: int  # `from`: the initiator's peer id
    KIND = K_HELLO

    def encode(self) -> bytes:
        return struct.pack(">BQQ", self.KIND, self.timestamp, self.sender)

    @staticmethod
    def read(r: _Reader) -> "Hello":
        return Hello(r.u64(), r.u64())


@dataclass
class Registered:
    id: int
    keepalive: int
    addr: Addr
    KIND = K_REGISTERED

    def encode(self) -> bytes:
        return struct.pack(">BQH", self.KIND, self.id, self.keepalive) + encode_addr(self.addr)

    @staticmethod
    def read(r: _Reader) -> "Registered":
        return Registered(r.u64(), r.u16(), r.addr())


@dataclass
class HelloAck:
    sender: int  # `from`: the responder's peer id
    KIND = K_HELLO_ACK

    def encode(self) -> bytes:
        return struct.pack(">BQ", self.KIND, self.sender)

    @staticmethod
    def read(r: _Reader) -> "HelloAck":
        return HelloAck(r.u64())


@dataclass
class Keepalive:
    seq: int
    KIND = K_KEEPALIVE

    def encode(self) -> bytes:
        return struct.pack(">BI", self.KIND, self.seq)

    @staticmethod
    def read(r: _Reader) -> "Keepalive":
        return Keepalive(r.u32())


@dataclass
class List:
    seq: int
    after: int
    KIND = K_LIST

    def encode(self) -> bytes:
        return struct.pack(">BIQ", self.KIND, self.seq, self.after)

    @staticmethod
    def read(r: _Reader) -> "List":
        return List(r.u32(), r.u64())


@dataclass
class Connect:
    seq: int
    target: int
    KIND = K_CONNECT

    def encode(self) -> bytes:
        return struct.pack(">BIQ", self.KIND, self.seq, self.target)

    @staticmethod
    def read(r: _Reader) -> "Connect":
        return Connect(r.u32(), r.u64())


@dataclass
class Unregister:
    seq: int
    KIND = K_UNREGISTER

    def encode(self) -> bytes:
        return struct.pack(">BI", self.KIND, self.seq)

    @staticmethod
    def read(r: _Reader) -> "Unregister":
        return Unregister(r.u32())


@dataclass
class Relay:
    seq: int
    target: int
    data: bytes
    KIND = K_RELAY

    def encode(self) -> bytes:
        if not self.data:
            raise ValueError("RELAY data is 1 or more bytes")
        return struct.pack(">BIQ", self.KIND, self.seq, self.target) + self.data

    @staticmethod
    def read(r: _Reader) -> "Relay":
        seq, target, data = r.u32(), r.u64(), r.rest()
        if not data:
            raise Malformed("RELAY without data")
        return Relay(seq, target, data)


@dataclass
class KeepaliveAck:
    seq: int
    keepalive: int
    addr: Addr
    KIND = K_KEEPALIVE_ACK

    def encode(self) -> bytes:
        return struct.pack(">BIH", self.KIND, self.seq, self.keepalive) + encode_addr(self.addr)

    @staticmethod
    def read(r: _Reader) -> "KeepaliveAck":
        return KeepaliveAck(r.u32(), r.u16(), r.addr())


@dataclass
class ListAck:
    seq: int
    more: bool
    entries: list  # [(id, addr)]
    KIND = K_LIST_ACK

    def encode(self) -> bytes:
        out = struct.pack(">BIBH", self.KIND, self.seq, 1 if self.more else 0, len(self.entries))
        for peer, addr in self.entries:
            out += struct.pack(">Q", peer) + encode_addr(addr)
        return out

    @staticmethod
    def read(r: _Reader) -> "ListAck":
        seq, more, count = r.u32(), r.u8(), r.u16()
        if more > 1:
            raise Malformed(f"LIST_ACK more = {more}")
        entries = [(r.u64(), r.addr()) for _ in range(count)]
        return ListAck(seq, bool(more), entries)


@dataclass
class ConnectAck:
    seq: int
    target: int
    key: bytes
    addr: Addr
    KIND = K_CONNECT_ACK

    def encode(self) -> bytes:
        return struct.pack(">BIQ", self.KIND, self.seq, self.target) + self.key + encode_addr(self.addr)

    @staticmethod
    def read(r: _Reader) -> "ConnectAck":
        return ConnectAck(r.u32(), r.u64(), r.take(32), r.addr())


@dataclass
class UnregisterAck:
    seq: int
    KIND = K_UNREGISTER_ACK

    def encode(self) -> bytes:
        return struct.pack(">BI", self.KIND, self.seq)

    @staticmethod
    def read(r: _Reader) -> "UnregisterAck":
        return UnregisterAck(r.u32())


@dataclass
class RelayAck:
    seq: int
    KIND = K_RELAY_ACK

    def encode(self) -> bytes:
        return struct.pack(">BI", self.KIND, self.seq)

    @staticmethod
    def read(r: _Reader) -> "RelayAck":
        return RelayAck(r.u32())


@dataclass
class Intro:
    sender: int  # `from`
    key: bytes
    addr: Addr
    KIND = K_INTRO

    def encode(self) -> bytes:
        return struct.pack(">BQ", self.KIND, self.sender) + self.key + encode_addr(self.addr)

    @staticmethod
    def read(r: _Reader) -> "Intro":
        return Intro(r.u64(), r.take(32), r.addr())


@dataclass
class Relayed:
    sender: int  # `from`
    data: bytes
    KIND = K_RELAYED

    def encode(self) -> bytes:
        return struct.pack(">BQ", self.KIND, self.sender) + self.data

    @staticmethod
    def read(r: _Reader) -> "Relayed":
        return Relayed(r.u64(), r.rest())


@dataclass
class Error:
    seq: int
    code: int
    message: str
    KIND = K_ERROR

    @property
    def name(self) -> str:
        return ERROR_CODES.get(self.code, f"unknown code {self.code}")

    def encode(self) -> bytes:
        text = self.message.encode("utf-8")
        if len(text) > MAX_ERROR_MESSAGE:
            raise ValueError("an ERROR message is at most 160 bytes")
        return struct.pack(">BIBB", self.KIND, self.seq, self.code, len(text)) + text

    @staticmethod
    def read(r: _Reader) -> "Error":
        seq, code, length = r.u32(), r.u8(), r.u8()
        if length > MAX_ERROR_MESSAGE:
            raise Malformed(f"ERROR message of {length} bytes")
        raw = r.take(length)
        try:
            message = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise Malformed("ERROR message is not UTF-8") from err
        return Error(seq, code, message)


@dataclass
class Message:
    msg: int
    ts: int  # Unix milliseconds
    text: str
    KIND = K_MESSAGE

    def encode(self) -> bytes:
        text = self.text.encode("utf-8")
        if len(text) > MAX_TEXT:
            raise ValueError("a MESSAGE text is at most 1000 bytes of UTF-8")
        return struct.pack(">BQQ", self.KIND, self.msg, self.ts) + text

    @staticmethod
    def read(r: _Reader) -> "Message":
        msg, ts, raw = r.u64(), r.u64(), r.rest()
        if len(raw) > MAX_TEXT:
            raise Malformed(f"MESSAGE text of {len(raw)} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise Malformed("MESSAGE text is not UTF-8") from err
        return Message(msg, ts, text)


@dataclass
class MessageAck:
    msg: int
    KIND = K_MESSAGE_ACK

    def encode(self) -> bytes:
        return struct.pack(">BQ", self.KIND, self.msg)

    @staticmethod
    def read(r: _Reader) -> "MessageAck":
        return MessageAck(r.u64())


@dataclass
class Probe:
    nonce: int
    KIND = K_PROBE

    def encode(self) -> bytes:
        return struct.pack(">BQ", self.KIND, self.nonce)

    @staticmethod
    def read(r: _Reader) -> "Probe":
        return Probe(r.u64())


@dataclass
class ProbeAck:
    nonce: int
    KIND = K_PROBE_ACK

    def encode(self) -> bytes:
        return struct.pack(">BQ", self.KIND, self.nonce)

    @staticmethod
    def read(r: _Reader) -> "ProbeAck":
        return ProbeAck(r.u64())


Payload = Union[
    Register, Hello, Registered, HelloAck, Keepalive, List, Connect, Unregister, Relay,
    KeepaliveAck, ListAck, ConnectAck, UnregisterAck, RelayAck, Intro, Relayed, Error,
    Message, MessageAck, Probe, ProbeAck,
]

PAYLOADS: dict[int, type] = {
    cls.KIND: cls
    for cls in (
        Register, Hello, Registered, HelloAck, Keepalive, List, Connect, Unregister, Relay,
        KeepaliveAck, ListAck, ConnectAck, UnregisterAck, RelayAck, Intro, Relayed, Error,
        Message, MessageAck, Probe, ProbeAck,
    )
}
PAYLOAD_NAMES = {kind: cls.__name__ for kind, cls in PAYLOADS.items()}

# Where each payload may appear.
HANDSHAKE_INIT_KINDS = {K_REGISTER, K_HELLO}
HANDSHAKE_RESP_KINDS = {K_REGISTERED, K_HELLO_ACK, K_ERROR}
TRANSPORT_KINDS = set(PAYLOADS) - HANDSHAKE_INIT_KINDS - {K_REGISTERED, K_HELLO_ACK}


def decode_payload(buf: bytes, allowed: Optional[set] = None) -> Payload:
    """Any payload; bytes after the last field are ignored (section 4)."""
    if not buf:
        raise Malformed("empty payload")
    cls = PAYLOADS.get(buf[0])
    if cls is None or (allowed is not None and buf[0] not in allowed):
        raise Malformed(f"unknown payload kind 0x{buf[0]:02x}")
    return cls.read(_Reader(buf, cls.__name__))


# ---------------------------------------------------------------------------
# Handshakes as whole frames
# ---------------------------------------------------------------------------


@dataclass
class PendingInit:
    """A HANDSHAKE_INIT sent and not yet answered (initiator side)."""

    state: HandshakeState
    sender: int
    responder_public: bytes
    frame: bytes
    mac1: bytes
    sent: float
    payload: Payload


def start_handshake(
    s: StaticKey,
    responder_public: bytes,
    sender: int,
    payload: Payload,
    cookie: Optional[bytes] = None,
    ephemeral: Optional[bytes] = None,
    now: Optional[float] = None,
) -> PendingInit:
    """Message 1 as a HANDSHAKE_INIT frame (section 3.1)."""
    state = HandshakeState(True, s, rs=responder_public, ephemeral=ephemeral)
    noise = state.write_message_1(payload.encode())
    frame = build_init(sender, noise, responder_public, cookie)
    return PendingInit(state, sender, responder_public, frame.encode(), frame.mac1,
                       time.monotonic() if now is None else now, payload)


@dataclass
class AcceptedInit:
    """A HANDSHAKE_INIT read by a responder, before it answers."""

    state: HandshakeState
    sender: int
    initiator_public: bytes
    payload: Payload


def read_init(
    s: StaticKey,
    buf: bytes,
    allowed: set,
    cookie_check: Optional[Callable[[HandshakeInit], bool]] = None,
) -> AcceptedInit:
    """Section 3.3 steps 1, 3, 4 (when given), 5 and 6. Raises on any failure.

    The shortest INIT accepted is 142 bytes at the server (REGISTER), 150 at
    a daemon (HELLO): `allowed` tells which receiver this is.
    """
    shortest = INIT_MIN_DAEMON if allowed == {K_HELLO} else INIT_MIN_SERVER
    if len(buf) < shortest or len(buf) > MAX_DATAGRAM:
        raise Malformed(f"HANDSHAKE_INIT of {len(buf)} bytes")
    frame = HandshakeInit.decode(buf)
    if not check_mac(MAC(mac1_key(s.public), frame.mac1_input()), frame.mac1):
        raise Rejected("mac1")
    if cookie_check is not None and not cookie_check(frame):
        raise Rejected("mac2")
    state = HandshakeState(False, s)
    payload = state.read_message_1(frame.noise)
    decoded = decode_payload(payload, allowed)
    return AcceptedInit(state, frame.sender, state.rs, decoded)


def answer_init(
    accepted: AcceptedInit,
    sender: int,
    payload: Payload,
    window: int,
    now: float,
    ephemeral: Optional[bytes] = None,
) -> tuple[bytes, Session]:
    """Message 2 as a HANDSHAKE_RESP frame, and the responder's session."""
    if ephemeral is not None:
        accepted.state._fixed_e = ephemeral
    if isinstance(payload, Error) and len(payload.message.encode("utf-8")) > MAX_RESP_ERROR_MESSAGE:
        raise ValueError("an ERROR in a HANDSHAKE_RESP carries at most 62 bytes of message (section 3.2)")
    noise, (k1, k2) = accepted.state.write_message_2(payload.encode())
    frame = build_resp(sender, accepted.sender, noise, accepted.initiator_public)
    session = Session(sender, accepted.sender, send_key=k2, recv_key=k1, window_size=window,
                      created=now, peer_public=accepted.initiator_public, confirmed=False)
    return frame.encode(), session


def read_resp(
    pending: PendingInit, buf: bytes, window: int, now: float
) -> tuple[Payload, Session]:
    """Completes a handshake with its HANDSHAKE_RESP (section 3.3, last paragraph).

    From the server (a REGISTER answered) the RESP is at least 80 bytes and
    carries REGISTERED or ERROR; from a peer at least 82 bytes with HELLO_ACK.
    """
    to_server = isinstance(pending.payload, Register)
    shortest = RESP_MIN_SERVER if to_server else RESP_MIN_DAEMON
    if len(buf) < shortest or len(buf) > MAX_DATAGRAM:
        raise Malformed(f"HANDSHAKE_RESP of {len(buf)} bytes")
    frame = HandshakeResp.decode(buf)
    if frame.receiver != pending.sender:
        raise Rejected("HANDSHAKE_RESP for another handshake")
    if now - pending.sent > PENDING_HANDSHAKE:
        raise Rejected("HANDSHAKE_RESP too late")
    body = buf[:-16]
    if not check_mac(MAC(mac1_key(pending.state.s.public), body), frame.mac1):
        raise Rejected("mac1 of HANDSHAKE_RESP")
    payload, (k1, k2) = pending.state.read_message_2(frame.noise)
    decoded = decode_payload(payload, {K_REGISTERED, K_ERROR} if to_server else {K_HELLO_ACK})
    session = Session(pending.sender, frame.sender, send_key=k1, recv_key=k2, window_size=window,
                      created=now, peer_public=pending.responder_public, confirmed=True)
    return decoded, session


# ---------------------------------------------------------------------------
# Section 7: the answer to a protocol v1 datagram
# ---------------------------------------------------------------------------


def v1_answer(seq: int) -> bytes:
    """The exact bytes a v2 server answers to a v1 JSON datagram whose `seq` is `seq`."""
    return (
        '{"v":1,"type":"ERROR","seq":%d,"code":"unsupported_version",'
        '"message":"this server speaks peerd protocol v2"}' % seq
    ).encode("ascii")


def v1_seq(datagram: bytes) -> int:
    """`S` of section 7: the datagram's `seq` when all of these hold, else 0:

    - the datagram is one JSON text as RFC 8259 has it (UTF-8, no NaN or
      Infinity, which Python's json module would otherwise accept) whose
      value is an object;
    - its nesting depth is at most 127 (the outer object counts 1);
    - no string in it (member names included) holds a lone surrogate;
    - every number in it is finite as a double (`1e309` is not);
    - its `seq` (the last one when the name appears twice) is a number
      written without fraction or exponent, from 0 to 2^32 - 1.
    """

    def not_json(text: str) -> None:
        raise ValueError(f"{text} is not JSON")

    def finite_float(text: str) -> object:
        if math.isinf(float(text)):
            raise ValueError(f"{text} is not finite as a double")
        return _NOT_AN_INTEGER  # a fraction or an exponent

    def finite_int(text: str) -> int:
        if math.isinf(float(text)):
            raise ValueError(f"{text} is not finite as a double")
        return int(text)

    try:
        body = json.loads(
            datagram.decode("utf-8"), parse_constant=not_json, parse_float=finite_float, parse_int=finite_int
        )
        if not isinstance(body, dict) or _json_depth(datagram.decode("utf-8")) > V1_MAX_DEPTH:
            return 0
    except (ValueError, UnicodeError, RecursionError):
        return 0
    seq = body.get("seq")  # a key given twice: json keeps the last
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 1 << 32:
        return 0
    return seq


# Section 7: the deepest nesting of a v1 datagram whose `seq` is answered.
V1_MAX_DEPTH = 127


def _json_depth(text: str) -> int:
    """The nesting depth of the valid JSON `text` (each object or array
    counts 1 plus its deepest member), read from the text itself so that
    the values of a name given twice count too; raises ValueError on a
    lone surrogate escape anywhere in a string."""
    depth = deepest = 0
    i, in_string, high = 0, False, False
    while i < len(text):
        c = text[i]
        if in_string:
            step = 1
            if c == "\\" and text[i + 1] == "u":
                unit, step = int(text[i + 2 : i + 6], 16), 6
                low = 0xDC00 <= unit <= 0xDFFF
                if low != high:
                    raise ValueError("a lone surrogate")
                high = 0xD800 <= unit <= 0xDBFF
            else:
                if high:
                    raise ValueError("a lone surrogate")
                if c == "\\":
                    step = 2
                elif c == '"':
                    in_string = False
            i += step
            continue
        if c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
        i += 1
    return deepest


_NOT_AN_INTEGER = object()


def frame_kind(buf: bytes) -> str:
    """A short name for a datagram's first byte (for logs)."""
    if not buf:
        return "empty"
    return {
        HANDSHAKE_INIT: "HANDSHAKE_INIT",
        HANDSHAKE_RESP: "HANDSHAKE_RESP",
        COOKIE_REPLY: "COOKIE_REPLY",
        TRANSPORT: "TRANSPORT",
        KEY_REQUEST: "KEY_REQUEST",
        KEY_REPLY: "KEY_REPLY",
        0x7B: "v1 JSON",
        0x00: "STUN",
        0x01: "STUN",
    }.get(buf[0], f"0x{buf[0]:02x}")


def u32be(buf: bytes, off: int) -> int:
    """The big-endian u32 at `off`."""
    return struct.unpack(">I", buf[off : off + 4])[0]


def now_ns() -> int:
    return time.time_ns()
