"""A protocol v2 node on a UDP socket: a client of `peerd server` and a peer.

Built on the codec of `peerd_v2.py`, from docs/protocol.md alone. One
`Node` owns one UDP socket, like a peerd daemon: it registers with the
server (REGISTER handshake, cookies under load, retransmission by fresh
INITs), sends requests with retransmission under the same `seq`
(KEEPALIVE, LIST, CONNECT, UNREGISTER, RELAY), handles INTRO, RELAYED and
ERROR, and talks to other peers over sessions of its own (HELLO handshake,
MESSAGE/MESSAGE_ACK, PROBE/PROBE_ACK), directly or inside RELAY.

Nothing here blocks on one socket: a `Net` pumps every node's socket and
timers until a condition holds or a deadline passes, so two nodes in one
process can answer each other.
"""

from __future__ import annotations

import os
import random
import selectors
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import peerd_v2 as p


class Failure(Exception):
    """A step of a scenario that did not happen by its deadline."""


@dataclass
class Received:
    """One datagram as it arrived (for checks that want to see everything)."""

    at: float
    src: tuple
    data: bytes
    note: str = ""


@dataclass
class Request:
    """A request to the server waiting for its reply (section 5.2)."""

    seq: int
    payload: bytes
    tries: int = 0
    next_at: float = 0.0
    delay: float = p.REQUEST_RETRY_FIRST
    reply: Optional[p.Payload] = None
    replies: int = 0
    failed: bool = False
    frames: list = field(default_factory=list)  # every TRANSPORT frame sent for it

    @property
    def done(self) -> bool:
        return self.reply is not None or self.failed


@dataclass
class Outgoing:
    """A MESSAGE waiting for its MESSAGE_ACK (section 6, delivery)."""

    peer: int
    msg: int
    payload: bytes
    path: str  # "direct" or "relay"
    next_at: float
    delay: float = p.MESSAGE_RETRY_FIRST
    sends: int = 0
    acked: bool = False


@dataclass
class Pending:
    """A handshake this node started (section 3)."""

    init: p.PendingInit
    peer: Optional[int]  # None: the server
    path: str  # "direct" or "relay"
    dest: tuple


@dataclass
class PeerState:
    """What a node knows of another peer."""

    id: int
    offered_key: Optional[bytes] = None  # from the last CONNECT_ACK or INTRO
    offered_addr: Optional[tuple] = None
    pinned_key: Optional[bytes] = None
    sessions: list = field(default_factory=list)  # newest first, at most 2
    direct_addr: Optional[tuple] = None  # set only by an authenticated direct frame
    last_timestamp: int = -1  # greatest HELLO timestamp accepted from its key


class Node:
    """One peer on one UDP socket."""

    def __init__(
        self,
        name: str,
        server: tuple,
        server_public: bytes,
        key: Optional[p.StaticKey] = None,
        bind: tuple = ("127.0.0.1", 0),
        log: Optional[Callable[[str], None]] = None,
        auto_keepalive: bool = True,
    ) -> None:
        self.name = name
        self.key = key or p.StaticKey.generate()
        family = socket.AF_INET6 if ":" in bind[0] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind(bind)
        self.sock.setblocking(False)
        self.server = server
        self.server_public = server_public
        self.log = log or (lambda line: None)
        self.auto_keepalive = auto_keepalive
        self.id: Optional[int] = None
        self.keepalive: Optional[int] = None
        self.public_addr: Optional[tuple] = None
        self.register_error: Optional[p.Error] = None
        self.server_sessions: list = []  # newest first, at most 2
        self.sessions: dict = {}  # local index -> (Session, owner: None or peer id)
        self.pending: dict = {}  # local index -> Pending
        self.register_round: Optional[dict] = None
        self.cookie: Optional[tuple] = None  # (value, obtained at, from address)
        self.cookie_replies = 0
        self.last_timestamp: dict = {}  # responder key -> last timestamp sent
        self.requests: dict = {}  # seq -> Request
        self.next_seq = random.randrange(1, 1 << 31)
        self.next_msg = random.randrange(1, 1 << 40)
        self.last_keepalive = time.monotonic()
        self.peers: dict = {}  # id -> PeerState
        self.intros: list = []  # every INTRO
        self.errors: list = []  # every unsolicited ERROR (seq matched no request)
        self.inbox: dict = {}  # (sender, msg) -> text, stored once
        self.inbox_copies: dict = {}  # (sender, msg) -> copies received
        self.inbox_paths: list = []  # (sender, msg, path) per copy
        self.outbox: dict = {}  # msg -> Outgoing
        self.probe_acks: dict = {}  # nonce -> path
        self.received: list = []  # every datagram
        self.relayed: list = []  # every RELAYED payload
        self.dropped: list = []  # (reason, first byte) of every dropped datagram
        self.key_replies: list = []  # (src, key)
        self.init_budget: dict = {}  # source ip -> (window start, count)
        self.sent: list = []  # (what, bytes, destination) of every datagram sent
        self._current: Optional[Received] = None  # the datagram being handled
        self.init_indices: list = []  # the index of every REGISTER INIT sent

    # ------------------------------------------------------------------ sockets

    @property
    def addr(self) -> tuple:
        host, port = self.sock.getsockname()[:2]
        return p.normal_addr((host, port))

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes, dest: tuple, what: str = "raw") -> None:
        self.sent.append((what, data, dest))
        self.sock.sendto(data, dest)

    def _note(self, note: str) -> None:
        """Says what the datagram being handled turned out to be."""
        if self._current is not None and not self._current.note:
            self._current.note = note

    def _drop(self, reason: str, data: bytes) -> None:
        self._note(f"dropped: {reason}")
        self.dropped.append((reason, data[:1].hex()))
        self.log(f"{self.name}: dropped {p.frame_kind(data)}: {reason}")

    # ---------------------------------------------------------------- identity

    def _index(self) -> int:
        while True:
            index = int.from_bytes(os.urandom(4), "big")
            if index not in self.sessions and index not in self.pending:
                return index

    def _timestamp(self, responder: bytes) -> int:
        stamp = max(p.now_ns(), self.last_timestamp.get(responder, -1) + 1)
        self.last_timestamp[responder] = stamp
        return stamp

    def _cookie_for_server(self, now: float) -> Optional[bytes]:
        if self.cookie is None:
            return None
        value, at, source = self.cookie
        if now - at >= p.COOKIE_LIFETIME or source != self.addr:
            return None
        return value

    # ---------------------------------------------------------- registration

    def register(self) -> None:
        """Starts a REGISTER round: a fresh INIT now, then after 250 ms, doubling, 5 in all."""
        now = time.monotonic()
        self.register_round = {"tries": 0, "next_at": now, "delay": p.REQUEST_RETRY_FIRST, "done": False}
        self._register_try(now)

    @property
    def registered(self) -> bool:
        return self.register_round is not None and self.register_round["done"]

    def _register_try(self, now: float) -> None:
        round_ = self.register_round
        round_["tries"] += 1
        round_["next_at"] = now + round_["delay"]
        round_["delay"] *= 2
        index = self._index()
        self.init_indices.append(index)
        init = p.start_handshake(
            self.key,
            self.server_public,
            index,
            p.Register(self._timestamp(self.server_public)),
            cookie=self._cookie_for_server(now),
            now=now,
        )
        self.pending[index] = Pending(init, None, "direct", self.server)
        self.send_raw(init.frame, self.server, "REGISTER INIT")

    # --------------------------------------------------------------- requests

    def request(self, make: Callable[[int], p.Payload]) -> Request:
        """Sends a new request (a new `seq`); `make(seq)` builds its payload."""
        seq = self.next_seq
        self.next_seq = (self.next_seq + 1) & 0xFFFFFFFF
        req = Request(seq, make(seq).encode())
        self.requests[seq] = req
        self._send_request(req, time.monotonic())
        return req

    def retransmit(self, req: Request) -> None:
        """Sends `req` again at once: same seq and payload, a new TRANSPORT frame."""
        self._send_request(req, time.monotonic(), scheduled=False)

    def _send_request(self, req: Request, now: float, scheduled: bool = True) -> None:
        if not self.server_sessions:
            raise Failure(f"{self.name}: no session with the server")
        frame = self.server_sessions[0].seal(req.payload)
        req.frames.append(frame)
        req.tries += 1
        if scheduled:
            req.next_at = now + req.delay
            req.delay *= 2
        self.send_raw(frame, self.server, p.PAYLOAD_NAMES[req.payload[0]])

    def send_to_server(self, payload: p.Payload) -> bytes:
        """One TRANSPORT frame to the server outside the request machinery; returns it."""
        frame = self.server_sessions[0].seal(payload.encode())
        self.send_raw(frame, self.server, p.PAYLOAD_NAMES[payload.KIND])
        return frame

    # ------------------------------------------------------------------ peers

    def peer(self, peer_id: int) -> PeerState:
        if peer_id not in self.peers:
            self.peers[peer_id] = PeerState(peer_id)
        return self.peers[peer_id]

    def _peer_key(self, state: PeerState) -> Optional[bytes]:
        return state.pinned_key or state.offered_key

    def hello(self, peer_id: int, path: str) -> Pending:
        """Starts a HELLO handshake with `peer_id`, directly to its address or through RELAY."""
        state = self.peer(peer_id)
        key = self._peer_key(state)
        if key is None or self.id is None:
            raise Failure(f"{self.name}: no key for peer {peer_id} (CONNECT first)")
        index = self._index()
        now = time.monotonic()
        init = p.start_handshake(self.key, key, index, p.Hello(self._timestamp(key), self.id), now=now)
        dest = state.direct_addr or state.offered_addr
        pending = Pending(init, peer_id, path, dest)
        self.pending[index] = pending
        self._to_peer(peer_id, init.frame, path, dest, "HELLO INIT")
        return pending

    def _to_peer(self, peer_id: int, frame: bytes, path: str, dest: Optional[tuple], what: str) -> None:
        if path == "direct":
            self.send_raw(frame, dest, what)
        else:
            self.request(lambda seq: p.Relay(seq, peer_id, frame))

    def session_with(self, peer_id: int) -> Optional[p.Session]:
        state = self.peers.get(peer_id)
        return state.sessions[0] if state and state.sessions else None

    def send_peer(self, peer_id: int, payload: p.Payload, path: str) -> bytes:
        """One TRANSPORT frame on the newest session with `peer_id`; returns it."""
        state = self.peer(peer_id)
        if not state.sessions:
            raise Failure(f"{self.name}: no session with peer {peer_id}")
        frame = state.sessions[0].seal(payload.encode())
        dest = state.direct_addr or state.offered_addr
        self._to_peer(peer_id, frame, path, dest, p.PAYLOAD_NAMES[payload.KIND])
        return frame

    def send_message(self, peer_id: int, text: str, path: str) -> Outgoing:
        msg = self.next_msg
        self.next_msg += 1
        payload = p.Message(msg, time.time_ns() // 1_000_000, text)
        out = Outgoing(peer_id, msg, payload.encode(), path, next_at=0.0)
        self.outbox[msg] = out
        self._send_message(out, time.monotonic())
        return out

    def _send_message(self, out: Outgoing, now: float) -> None:
        state = self.peer(out.peer)
        frame = state.sessions[0].seal(out.payload)
        out.sends += 1
        out.next_at = now + out.delay
        out.delay = min(out.delay * 2, p.MESSAGE_RETRY_MAX)
        dest = state.direct_addr or state.offered_addr
        self._to_peer(out.peer, frame, out.path, dest, "MESSAGE")

    def probe(self, peer_id: int, path: str) -> int:
        nonce = int.from_bytes(os.urandom(8), "big")
        self.send_peer(peer_id, p.Probe(nonce), path)
        return nonce

    # ------------------------------------------------------------------ input

    def pump(self) -> int:
        """Reads every datagram waiting on the socket; returns how many."""
        count = 0
        while True:
            try:
                data, src = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return count
            except ConnectionRefusedError:
                continue
            count += 1
            src = p.normal_addr(src[:2])
            self._current = Received(time.monotonic(), src, data)
            self.received.append(self._current)
            try:
                self.handle(data, src, None)
            except (ValueError, struct.error) as err:  # Malformed, Rejected, bad points
                self._drop(str(err), data)
            finally:
                self._current = None

    def handle(self, data: bytes, src: Optional[tuple], relayed_from: Optional[int]) -> None:
        """One datagram, from `src` directly or inside RELAYED from `relayed_from`."""
        if not data or len(data) > p.MAX_DATAGRAM:
            raise p.Malformed("empty or over MAX_DATAGRAM")
        kind = data[0]
        now = time.monotonic()
        if kind == p.HANDSHAKE_RESP:
            self._on_resp(data, src, relayed_from, now)
        elif kind == p.HANDSHAKE_INIT:
            self._on_init(data, src, relayed_from, now)
        elif kind == p.TRANSPORT:
            self._on_transport(data, src, relayed_from, now)
        elif kind == p.COOKIE_REPLY and relayed_from is None:
            self._on_cookie(data, src, now)
        elif kind == p.KEY_REPLY and relayed_from is None:
            if src != p.normal_addr(self.server):
                raise p.Rejected("KEY_REPLY from another address")
            self.key_replies.append((src, p.decode_key_reply(data)))
            self._note("KEY_REPLY")
        else:
            raise p.Malformed(f"first byte 0x{kind:02x}")

    def _on_resp(self, data, src, relayed_from, now) -> None:
        frame = p.HandshakeResp.decode(data)
        pending = self.pending.get(frame.receiver)
        if pending is None:
            raise p.Rejected("HANDSHAKE_RESP for no pending handshake")
        if pending.peer is None and (relayed_from is not None or src != p.normal_addr(self.server)):
            raise p.Rejected("server HANDSHAKE_RESP from elsewhere")
        if pending.peer is not None and relayed_from is not None and relayed_from != pending.peer:
            raise p.Rejected("relayed HANDSHAKE_RESP from another peer")
        window = p.WINDOW_SERVER if pending.peer is None else p.WINDOW_DAEMON
        payload, session = p.read_resp(pending.init, data, window, now)
        del self.pending[frame.receiver]
        self._note(f"{type(payload).__name__} receiver={frame.receiver:#x}")
        if pending.peer is None:
            self._server_session(session, payload)
            return
        if not isinstance(payload, p.HelloAck) or payload.sender != pending.peer:
            raise p.Rejected("HELLO_ACK from another peer")
        state = self.peer(pending.peer)
        state.pinned_key = state.pinned_key or pending.init.responder_public
        self._install(state, session)
        if relayed_from is None:
            state.direct_addr = src

    def _server_session(self, session: p.Session, payload: p.Payload) -> None:
        for index in [i for i, pend in self.pending.items() if pend.peer is None]:
            del self.pending[index]
        self.server_sessions.insert(0, session)
        for old in self.server_sessions[2:]:
            self.sessions.pop(old.local_index, None)
        del self.server_sessions[2:]
        self.sessions[session.local_index] = (session, None)
        if self.register_round is not None:
            self.register_round["done"] = True
        if isinstance(payload, p.Registered):
            self.id, self.keepalive, self.public_addr = payload.id, payload.keepalive, payload.addr
            self.register_error = None
            self.last_keepalive = time.monotonic()
            self.log(f"{self.name}: registered as id {self.id}, seen at {self.public_addr}")
        elif isinstance(payload, p.Error):
            self.register_error = payload
            self.log(f"{self.name}: registration refused: {payload.name}: {payload.message}")
        else:
            raise p.Rejected("server HANDSHAKE_RESP without REGISTERED or ERROR")

    def _install(self, state: PeerState, session: p.Session) -> None:
        state.sessions.insert(0, session)
        for old in state.sessions[2:]:
            self.sessions.pop(old.local_index, None)
        del state.sessions[2:]
        self.sessions[session.local_index] = (session, state.id)

    def _init_allowed(self, src: Optional[tuple], now: float) -> bool:
        """Section 6, limits: 20 INITs a second per source IP, 50 in all."""
        for key, cap in ((src[0] if src else "relay", 20), ("*", 50)):
            start, count = self.init_budget.get(key, (now, 0))
            if now - start >= 1.0:
                start, count = now, 0
            if count >= cap:
                return False
            self.init_budget[key] = (start, count + 1)
        return True

    def _on_init(self, data, src, relayed_from, now) -> None:
        if not self._init_allowed(src, now):
            raise p.Rejected("HANDSHAKE_INIT over the rate limit")
        accepted = p.read_init(self.key, data, {p.K_HELLO})
        hello = accepted.payload
        if relayed_from is not None and relayed_from != hello.sender:
            raise p.Rejected("relayed HELLO from another peer than RELAYED's from")
        state = self.peer(hello.sender)
        expected = state.pinned_key or state.offered_key
        if expected is None or not p.check_mac(expected, accepted.initiator_public):
            raise p.Rejected("HELLO from a key not pinned nor offered for its id")
        if hello.timestamp <= state.last_timestamp:
            raise p.Rejected("HELLO timestamp not newer (replay)")
        if self.id is None:
            raise p.Rejected("no id yet")
        state.last_timestamp = hello.timestamp
        state.pinned_key = accepted.initiator_public
        self._note(f"Hello from={hello.sender}")
        frame, session = p.answer_init(accepted, self._index(), p.HelloAck(self.id), p.WINDOW_DAEMON, now)
        self._install(state, session)
        if relayed_from is None:
            state.direct_addr = src
            self.send_raw(frame, src, "HELLO RESP")
        else:
            self.request(lambda seq: p.Relay(seq, hello.sender, frame))

    def _on_cookie(self, data, src, now) -> None:
        reply = p.CookieReply.decode(data)
        pending = self.pending.get(reply.receiver)
        if pending is None or pending.peer is not None or src != p.normal_addr(self.server):
            raise p.Rejected("COOKIE_REPLY for no pending REGISTER")
        cookie = reply.open(self.server_public, pending.init.mac1)
        self.cookie = (cookie, now, self.addr)
        self.cookie_replies += 1
        self._note("CookieReply")
        del self.pending[reply.receiver]
        self.log(f"{self.name}: got a cookie; sending a fresh INIT with mac2")
        # A fresh INIT (new ephemeral key, new timestamp) with mac2 (section 3.4).
        if self.register_round is not None and not self.register_round["done"]:
            self._register_try(now)

    def _on_transport(self, data, src, relayed_from, now) -> None:
        frame = p.Transport.decode(data)
        entry = self.sessions.get(frame.receiver)
        if entry is None:
            raise p.Rejected("TRANSPORT for no session")
        session, owner = entry
        if owner is None and relayed_from is not None:
            raise p.Rejected("server session frame inside RELAYED")
        if owner is not None and relayed_from is not None and owner != relayed_from:
            raise p.Rejected("RELAYED frame of another peer's session")
        payload = session.open(frame, now)  # authenticated from here on
        if owner is None:
            self._on_server_payload(payload)
            return
        state = self.peer(owner)
        if relayed_from is None:
            state.direct_addr = src  # roaming: the source of an authenticated frame
        path = "direct" if relayed_from is None else "relay"
        decoded = p.decode_payload(payload)
        self._note(f"peer {type(decoded).__name__} from={owner}")
        self._on_peer_payload(state, decoded, path, src)

    def _on_server_payload(self, raw: bytes) -> None:
        try:
            payload = p.decode_payload(raw)
        except p.Malformed as err:
            raise p.Malformed(f"from the server: {err}") from err
        if isinstance(payload, p.Intro):
            state = self.peer(payload.sender)
            state.offered_key, state.offered_addr = payload.key, payload.addr
            self.intros.append(payload)
            self._note(f"Intro from={payload.sender}")
            return
        if isinstance(payload, p.Relayed):
            self.relayed.append(payload)
            self._note(f"Relayed from={payload.sender}")
            self.handle(payload.data, None, payload.sender)
            return
        seq = getattr(payload, "seq", None)
        if seq is None or not isinstance(
            payload, (p.KeepaliveAck, p.ListAck, p.ConnectAck, p.UnregisterAck, p.RelayAck, p.Error)
        ):
            raise p.Malformed(f"server sent {type(payload).__name__}")
        req = self.requests.get(seq)
        if req is None:
            if isinstance(payload, p.Error):
                self.errors.append(payload)
            self._note(f"unsolicited {type(payload).__name__} seq={seq}")
            return
        self._note(f"{type(payload).__name__} seq={seq}")
        req.replies += 1
        if req.reply is None:
            req.reply = payload
        if isinstance(payload, p.ConnectAck):
            state = self.peer(payload.target)
            state.offered_key, state.offered_addr = payload.key, payload.addr
        if isinstance(payload, p.KeepaliveAck):
            self.keepalive, self.public_addr = payload.keepalive, payload.addr

    def _on_peer_payload(self, state: PeerState, payload: p.Payload, path: str, src) -> None:
        dest = src if path == "direct" else None
        if isinstance(payload, p.Message):
            key = (state.id, payload.msg)
            self.inbox.setdefault(key, payload.text)
            self.inbox_copies[key] = self.inbox_copies.get(key, 0) + 1
            self.inbox_paths.append((state.id, payload.msg, path))
            frame = state.sessions[0].seal(p.MessageAck(payload.msg).encode())
            self._to_peer(state.id, frame, path, dest, "MESSAGE_ACK")
        elif isinstance(payload, p.MessageAck):
            out = self.outbox.get(payload.msg)
            if out is not None and out.peer == state.id:
                out.acked = True
        elif isinstance(payload, p.Probe):
            frame = state.sessions[0].seal(p.ProbeAck(payload.nonce).encode())
            self._to_peer(state.id, frame, path, dest, "PROBE_ACK")
        elif isinstance(payload, p.ProbeAck):
            self.probe_acks[payload.nonce] = path
        else:
            raise p.Malformed(f"peer sent {type(payload).__name__}")

    # ------------------------------------------------------------------ timers

    def next_wake(self) -> float:
        times = [r.next_at for r in self.requests.values() if not r.done]
        times += [o.next_at for o in self.outbox.values() if not o.acked]
        if self.register_round is not None and not self.register_round["done"]:
            times.append(self.register_round["next_at"])
        if self.auto_keepalive and self.keepalive and self.server_sessions:
            times.append(self.last_keepalive + self.keepalive)
        return min(times, default=time.monotonic() + 1.0)

    def tick(self) -> None:
        now = time.monotonic()
        for req in list(self.requests.values()):
            if req.done or now < req.next_at:
                continue
            if req.tries >= p.REQUEST_TRIES:
                req.failed = True
            else:
                self._send_request(req, now)
        for out in self.outbox.values():
            if not out.acked and now >= out.next_at:
                self._send_message(out, now)
        round_ = self.register_round
        if round_ is not None and not round_["done"] and now >= round_["next_at"]:
            if round_["tries"] >= p.REQUEST_TRIES:
                round_["done"] = True  # the round failed; `registered` tells
            else:
                self._register_try(now)
        if self.auto_keepalive and self.keepalive and self.server_sessions:
            if now >= self.last_keepalive + self.keepalive:
                self.last_keepalive = now
                self.request(lambda seq: p.Keepalive(seq))
            if now - self.server_sessions[0].created > p.REKEY_AFTER and (
                self.register_round is None or self.register_round["done"]
            ):
                self.register()
        for index in [i for i, pend in self.pending.items() if now - pend.init.sent > p.PENDING_HANDSHAKE]:
            del self.pending[index]


class Net:
    """Pumps several nodes (and raw sockets) until a condition holds."""

    def __init__(self, nodes: list) -> None:
        self.nodes = list(nodes)
        self.selector = selectors.DefaultSelector()
        for node in self.nodes:
            self.selector.register(node.sock, selectors.EVENT_READ, node)

    def add(self, node: Node) -> None:
        self.nodes.append(node)
        self.selector.register(node.sock, selectors.EVENT_READ, node)

    def remove(self, node: Node) -> None:
        self.selector.unregister(node.sock)
        self.nodes.remove(node)
        node.close()

    def close(self) -> None:
        self.selector.close()
        for node in self.nodes:
            node.close()

    def step(self, until: float) -> None:
        wake = min([until] + [n.next_wake() for n in self.nodes])
        timeout = max(0.0, wake - time.monotonic())
        for key, _ in self.selector.select(timeout):
            key.data.pump()
        for node in self.nodes:
            node.tick()

    def wait(self, cond: Callable[[], bool], timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() >= end:
                raise Failure(f"timed out after {timeout:.1f} s waiting for {what}")
            self.step(end)

    def call(self, node: Node, make: Callable[[int], p.Payload], timeout: float = 10.0) -> p.Payload:
        """A request and its reply (an ERROR included); Failure when no reply comes."""
        req = node.request(make)
        self.wait(lambda: req.done, timeout, f"{node.name}: reply to {p.PAYLOAD_NAMES[req.payload[0]]}")
        if req.failed:
            raise Failure(f"{node.name}: no reply to {p.PAYLOAD_NAMES[req.payload[0]]} after {req.tries} tries")
        return req.reply

    def register(self, node: Node, timeout: float = 10.0) -> None:
        node.register()
        self.wait(lambda: node.registered, timeout, f"{node.name}: REGISTERED")
        if node.id is None:
            raise Failure(f"{node.name}: not registered ({node.register_error or 'no answer'})")


def recv_until(sock: socket.socket, cond: Callable[[bytes], bool], timeout: float) -> list:
    """Datagrams on a raw socket up to and including the first one for which `cond` holds."""
    end = time.monotonic() + timeout
    out = []
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise Failure(f"timed out after {timeout:.1f} s on a raw socket")
        sock.settimeout(left)
        try:
            data, _ = sock.recvfrom(65535)
        except socket.timeout:
            continue
        out.append(data)
        if cond(data):
            return out


def u32(data: bytes, off: int) -> int:
    return struct.unpack(">I", data[off : off + 4])[0]
