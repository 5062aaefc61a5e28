"""A protocol v2 node on a UDP socket: a client of `peerd server` and a peer.

Built on the codec of `peerd_v2.py`, from docs/protocol.md alone. One
`Node` owns one UDP socket, like a peerd daemon:

- it registers with the server: a REGISTER handshake in rounds of fresh
  INITs (section 9), cookies under load (section 3.4), the first answer to
  any INIT of the last 15 s taken and the others dropped (section 3), and
  one KEEPALIVE at once on the new session (section 3, confirmation);
- it sends requests with retransmission under the same `seq` (section 5.2),
  and handshakes again when a request's 5 tries go unanswered;
- it handles INTRO, RELAYED and ERROR, and pins each peer's key on first
  contact (section 8);
- it talks to other peers over sessions of its own (section 6): HELLO
  handshakes retried with a fresh INIT every 200 ms directly, or once a
  second through RELAY (section 9); the initiator sends a PROBE at once on
  the new session, a responder sends on a session only once a TRANSPORT
  frame arrived on it; paths are recorded only from a HANDSHAKE_RESP
  answering its own INIT or from an authenticated TRANSPORT frame, never
  from a received INIT;
- with each peer and with the server it keeps its four newest confirmed
  sessions and, apart from them, every unconfirmed one for 15 s; it sends
  on the newest confirmed one, the one confirmed last (section 4).

Nothing here blocks on one socket: a `Net` pumps every node's socket and
timers until a condition holds or a deadline passes, so several nodes in one
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

SESSIONS_KEPT = 4  # confirmed sessions a daemon keeps with each peer and the server (section 4)
UNCONFIRMED_KEPT = 15.0  # seconds an unconfirmed session is kept (section 4)
PUNCH_INTERVAL = 0.2  # a new INIT every 200 ms directly (section 6)
PUNCH_FOR = 3.0  # for at most 3 s
RELAYED_HELLO_INTERVAL = 1.0  # a relayed HELLO INIT at most once a second (section 9)
INIT_LIMIT_PER_IP = 20  # HELLO INITs per second from one IP (section 6)
INIT_LIMIT_ALL = 50  # and in all, relayed ones included
ROUND_INITS = 5  # INITs in a REGISTER round (section 9)
ROUND_GAP_FIRST = 0.5  # first gap between REGISTER rounds
ROUND_GAP_MAX = 5.0


class Failure(Exception):
    """A step of a scenario that did not happen by its deadline."""


@dataclass
class Received:
    """One datagram as it arrived, and what it turned out to be."""

    at: float
    src: tuple
    data: bytes
    note: str = ""
    reply_seq: Optional[int] = None  # a server reply (or ERROR) with this seq
    answers_init: Optional[int] = None  # a HANDSHAKE_RESP or COOKIE_REPLY for this INIT index
    session: Optional[int] = None  # a TRANSPORT frame opened on the session of this local index


@dataclass
class Request:
    """A request to the server waiting for its reply (section 5.2)."""

    seq: int
    payload: bytes
    retransmit: bool = True
    tries: int = 0
    next_at: float = 0.0
    delay: float = p.REQUEST_RETRY_FIRST
    reply: Optional[p.Payload] = None
    replies: int = 0
    failed: bool = False
    frames: list = field(default_factory=list)  # every TRANSPORT frame sent for it
    session: Optional[p.Session] = None  # sent on this session, not on the newest one

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
class Attempt:
    """One handshake attempt: every INIT sent for it, until one is answered."""

    peer: Optional[int]  # None: the server
    path: str  # "direct" or "relay"
    started: float
    next_at: float
    delay: float
    indices: list = field(default_factory=list)  # every INIT's sender index, in order
    in_round: int = 0  # INITs sent in the current REGISTER round
    round_gap: float = ROUND_GAP_FIRST
    done: bool = False
    answered_by: Optional[int] = None  # the index whose answer made the session
    error: Optional[p.Error] = None


@dataclass
class Pending:
    """A HANDSHAKE_INIT sent and kept for 15 s (section 3, retransmission)."""

    init: p.PendingInit
    attempt: Attempt
    timestamp: int


class SessionSet:
    """The sessions a daemon keeps with one peer or with the server (section 4):
    its four newest confirmed ones, newest (confirmed last) first, and apart
    from them every unconfirmed one for 15 s. Each method returns the
    sessions it let go, for the caller to forget their indices."""

    def __init__(self) -> None:
        self.confirmed: list = []  # newest confirmed first, at most SESSIONS_KEPT
        self.unconfirmed: list = []  # oldest first

    def all(self) -> list:
        return self.confirmed + self.unconfirmed

    def newest(self) -> Optional[p.Session]:
        """The session to send on: the newest confirmed one."""
        return self.confirmed[0] if self.confirmed else None

    def add(self, session: p.Session) -> list:
        """A new session: confirmed (the initiator's) or not (a responder's)."""
        if not session.confirmed:
            self.unconfirmed.append(session)
            return []
        self.confirmed.insert(0, session)
        dropped = self.confirmed[SESSIONS_KEPT:]
        del self.confirmed[SESSIONS_KEPT:]
        return dropped

    def confirm(self, session: p.Session) -> list:
        """A responder's session on which the first TRANSPORT frame arrived: the newest now."""
        self.unconfirmed.remove(session)
        return self.add(session)

    def expire(self, now: float) -> list:
        dropped = [s for s in self.unconfirmed if now - s.created > UNCONFIRMED_KEPT]
        self.unconfirmed = [s for s in self.unconfirmed if s not in dropped]
        return dropped


@dataclass
class PeerState:
    """What a node knows of another peer."""

    id: int
    key: Optional[bytes] = None  # pinned on first contact (CONNECT_ACK or INTRO)
    addr: Optional[tuple] = None  # from the last CONNECT_ACK or INTRO
    key_conflicts: list = field(default_factory=list)  # other keys the server gave later
    sessions: SessionSet = field(default_factory=SessionSet)
    direct_addr: Optional[tuple] = None  # see `Node._record_path`
    last_timestamp: int = -1  # greatest HELLO timestamp accepted from its key
    attempt: Optional[Attempt] = None  # the current HELLO attempt

    def sending_session(self) -> Optional[p.Session]:
        """The newest confirmed session (section 4)."""
        return self.sessions.newest()


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
        self.server_link = SessionSet()  # sessions with the server
        self.sessions: dict = {}  # local index -> (Session, owner: None for the server, or a peer id)
        self.pending: dict = {}  # INIT sender index -> Pending
        self.attempt: Optional[Attempt] = None  # the current REGISTER attempt
        self.cookie: Optional[tuple] = None  # (value, obtained at, from address)
        self.cookie_replies = 0
        self.last_timestamp = -1  # the last handshake timestamp sent (section 1.1)
        self.requests: dict = {}  # seq -> Request
        self.next_seq = random.randrange(1, 1 << 31)
        self.next_msg = random.randrange(1, 1 << 40)
        self.last_keepalive = time.monotonic()
        self.peers: dict = {}  # id -> PeerState
        self.intros: list = []  # every INTRO
        self.errors: list = []  # every ERROR whose seq matched no request
        self.inbox: dict = {}  # (sender, msg) -> text, stored once
        self.inbox_paths: list = []  # (sender, msg, path) per copy
        self.outbox: dict = {}  # msg -> Outgoing
        self.probe_acks: dict = {}  # nonce -> path
        self.received: list = []  # every datagram
        self.relayed: list = []  # every RELAYED payload
        self.dropped: list = []  # (reason, first byte) of every dropped datagram
        self.key_replies: list = []  # (src, key)
        self.init_budget: dict = {}  # "ip" or "*" -> (window start, count)
        self.sent: list = []  # (what, bytes, destination) of every datagram sent
        self._current: Optional[Received] = None  # the datagram being handled
        self.init_indices: list = []  # the sender index of every INIT sent, in order
        self.confirming: Optional[Request] = None  # the KEEPALIVE sent on the newest server session
        self.late_answers = 0  # answers to INITs already forgotten (section 3), dropped

    # ------------------------------------------------------------------ sockets

    @property
    def server_sessions(self) -> list:
        """The confirmed sessions with the server, newest first."""
        return self.server_link.confirmed

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

    def _timestamp(self) -> int:
        """Section 1.1: strictly increasing, max(clock, last + 1)."""
        self.last_timestamp = max(p.now_ns(), self.last_timestamp + 1)
        return self.last_timestamp

    def _cookie_for_server(self, now: float) -> Optional[bytes]:
        if self.cookie is None:
            return None
        value, at, source = self.cookie
        if now - at >= p.COOKIE_LIFETIME or source != self.addr:
            return None
        return value

    # ---------------------------------------------------------- registration

    def register(self) -> Attempt:
        """Starts a REGISTER attempt: rounds of fresh INITs until one is answered (section 9).

        INITs of an earlier attempt sent in the last 15 s stay pending: an
        answer to any INIT sent to the server in the last 15 s is accepted."""
        now = time.monotonic()
        self.attempt = Attempt(None, "direct", now, now, p.REQUEST_RETRY_FIRST)
        self._register_try(now)
        return self.attempt

    @property
    def registered(self) -> bool:
        return self.attempt is not None and self.attempt.done

    def retransmit_register(self) -> None:
        """The current attempt's next INIT, at once (as its timer would send it)."""
        self._register_try(time.monotonic())

    def _register_try(self, now: float) -> None:
        attempt = self.attempt
        attempt.in_round += 1
        if attempt.in_round < ROUND_INITS:
            attempt.next_at = now + attempt.delay
            attempt.delay *= 2
        else:  # the round's last INIT: after its wait, a gap, then a new round
            attempt.next_at = now + attempt.delay + attempt.round_gap
            attempt.round_gap = min(attempt.round_gap * 2, ROUND_GAP_MAX)
            attempt.in_round = 0
            attempt.delay = p.REQUEST_RETRY_FIRST
        index = self._index()
        stamp = self._timestamp()
        init = p.start_handshake(
            self.key, self.server_public, index, p.Register(stamp), cookie=self._cookie_for_server(now), now=now
        )
        attempt.indices.append(index)
        self.init_indices.append(index)
        self.pending[index] = Pending(init, attempt, stamp)
        self.send_raw(init.frame, self.server, "REGISTER INIT")

    def _forget_inits_to(self, peer: Optional[int]) -> None:
        """Section 3: once an answer is accepted, every other INIT sent to the
        same responder (`peer`, None for the server) is forgotten."""
        for index in [i for i, pend in self.pending.items() if pend.attempt.peer == peer]:
            del self.pending[index]

    # --------------------------------------------------------------- requests

    def request(self, make: Callable[[int], p.Payload], retransmit: bool = True,
                session: Optional[p.Session] = None) -> Request:
        """Sends a new request (a new `seq`); `make(seq)` builds its payload.

        `retransmit=False` sends one copy only, so that every reply with its
        seq answers that one frame (for checks that count replies).
        `session` sends it on that session with the server instead of the newest.
        """
        seq = self.next_seq
        self.next_seq = (self.next_seq + 1) & 0xFFFFFFFF
        payload = make(seq)
        req = Request(seq, payload if isinstance(payload, bytes) else payload.encode(), retransmit,
                      session=session)
        self.requests[seq] = req
        self._send_request(req, time.monotonic())
        return req

    def retransmit(self, req: Request) -> None:
        """Sends `req` again at once: same seq and payload, a new TRANSPORT frame."""
        self._send_request(req, time.monotonic(), scheduled=False)

    def _send_request(self, req: Request, now: float, scheduled: bool = True) -> None:
        if not self.server_sessions:
            raise Failure(f"{self.name}: no session with the server")
        frame = (req.session or self.server_sessions[0]).seal(req.payload)
        req.frames.append(frame)
        req.tries += 1
        if scheduled:
            req.next_at = now + req.delay if req.retransmit else now + p.PENDING_HANDSHAKE
            req.delay *= 2
        self.send_raw(frame, self.server, p.PAYLOAD_NAMES.get(req.payload[0], "request"))

    def send_to_server(self, payload: bytes, what: str = "raw payload") -> bytes:
        """One TRANSPORT frame with any payload bytes on the newest server session; returns it."""
        frame = self.server_sessions[0].seal(payload)
        self.send_raw(frame, self.server, what)
        return frame

    # ------------------------------------------------------------------ peers

    def peer(self, peer_id: int) -> PeerState:
        if peer_id not in self.peers:
            self.peers[peer_id] = PeerState(peer_id)
        return self.peers[peer_id]

    def _offered(self, peer_id: int, key: bytes, addr: tuple) -> None:
        """A key and address from CONNECT_ACK or INTRO: pinned on first contact (section 8)."""
        state = self.peer(peer_id)
        if state.key is None:
            state.key = key
        elif state.key != key:
            state.key_conflicts.append(key)
            self.log(f"{self.name}: the server gave another key for peer {peer_id}; keeping the pinned one")
        state.addr = addr

    def hello(self, peer_id: int, path: str, copies: int = 1, retry: bool = True) -> Attempt:
        """Starts a HELLO attempt with `peer_id`, directly to its address or through RELAY.

        `copies` INITs go out at once (as if retransmitted); then, with
        `retry`, a fresh INIT every 200 ms for 3 s directly, or once a second
        through the relay (section 9), until one is answered. INITs sent to
        the peer in the last 15 s stay pending (section 3: one attempt).
        """
        state = self.peer(peer_id)
        if state.key is None or self.id is None:
            raise Failure(f"{self.name}: no key for peer {peer_id} (CONNECT first)")
        now = time.monotonic()
        state.attempt = Attempt(peer_id, path, now, now, RELAYED_HELLO_INTERVAL)
        for _ in range(copies):
            self._hello_try(state, now)
        if not retry:
            state.attempt.next_at = float("inf")
        return state.attempt

    def _hello_try(self, state: PeerState, now: float) -> None:
        attempt = state.attempt
        attempt.next_at = now + (PUNCH_INTERVAL if attempt.path == "direct" else RELAYED_HELLO_INTERVAL)
        index = self._index()
        stamp = self._timestamp()
        init = p.start_handshake(self.key, state.key, index, p.Hello(stamp, self.id), now=now)
        attempt.indices.append(index)
        self.init_indices.append(index)
        self.pending[index] = Pending(init, attempt, stamp)
        self._to_peer(state, init.frame, attempt.path, "HELLO INIT")

    def _to_peer(self, state: PeerState, frame: bytes, path: str, what: str, dest: Optional[tuple] = None) -> None:
        if path == "direct":
            dest = dest or state.direct_addr or state.addr
            if dest is None:
                raise Failure(f"{self.name}: no address for peer {state.id}")
            self.send_raw(frame, dest, what)
        else:
            self.request(lambda seq: p.Relay(seq, state.id, frame))

    def session_with(self, peer_id: int) -> Optional[p.Session]:
        """The session this node sends on to `peer_id` (newest confirmed)."""
        state = self.peers.get(peer_id)
        return state.sending_session() if state else None

    def _seal_to(self, state: PeerState, payload: bytes) -> bytes:
        session = state.sending_session()
        if session is None:
            raise Failure(f"{self.name}: no confirmed session with peer {state.id}")
        return session.seal(payload)

    def send_peer(self, peer_id: int, payload: p.Payload, path: str) -> bytes:
        """One TRANSPORT frame on the newest confirmed session with `peer_id`; returns it."""
        state = self.peer(peer_id)
        frame = self._seal_to(state, payload.encode())
        self._to_peer(state, frame, path, p.PAYLOAD_NAMES[payload.KIND])
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
        frame = self._seal_to(state, out.payload)
        out.sends += 1
        out.next_at = now + out.delay
        out.delay = min(out.delay * 2, p.MESSAGE_RETRY_MAX)
        self._to_peer(state, frame, out.path, "MESSAGE")

    def probe(self, peer_id: int, path: str) -> int:
        nonce = int.from_bytes(os.urandom(8), "big")
        self.send_peer(peer_id, p.Probe(nonce), path)
        return nonce

    def _record_path(self, state: PeerState, src: tuple) -> None:
        """Section 6: a path is direct to an address once a HANDSHAKE_RESP answering
        one of our INITs, or a TRANSPORT frame that passed the replay window, arrived
        from it. Nothing else calls this."""
        state.direct_addr = src

    # ------------------------------------------------------------------ input

    def pump(self) -> int:
        """Reads every datagram waiting on the socket; returns how many."""
        count = 0
        while self.read_one():
            count += 1
        return count

    def read_one(self) -> bool:
        """Reads and handles one datagram; False when none is waiting."""
        while True:
            try:
                data, src = self.sock.recvfrom(65535)
                break
            except (BlockingIOError, InterruptedError):
                return False
            except ConnectionRefusedError:
                continue
        self.inject(data, src)
        return True

    def take(self) -> tuple:
        """The next datagram on the socket (which must be waiting), taken off it
        unhandled: to be handed to `inject` later, as if it had come late."""
        data, src = self.sock.recvfrom(65535)
        return data, src

    def inject(self, data: bytes, src: tuple) -> None:
        """Handles one datagram as if it had just arrived from `src`."""
        src = p.normal_addr(src[:2])
        self._current = Received(time.monotonic(), src, data)
        self.received.append(self._current)
        try:
            self.handle(data, src, None)
        except (ValueError, struct.error) as err:  # Malformed, Rejected, bad points
            self._drop(str(err), data)
        finally:
            self._current = None

    def peek(self) -> Optional[bytes]:
        """The next datagram waiting on the socket, left there; None when none is."""
        try:
            data, _ = self.sock.recvfrom(65535, socket.MSG_PEEK)
            return data
        except (BlockingIOError, InterruptedError, ConnectionRefusedError):
            return None

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
        if self._current is not None and relayed_from is None:
            self._current.answers_init = frame.receiver
        pending = self.pending.get(frame.receiver)
        if pending is None:
            if frame.receiver in self.init_indices:
                self.late_answers += 1
            raise p.Rejected("HANDSHAKE_RESP for no pending INIT (section 3: later answers are dropped)")
        attempt = pending.attempt
        if attempt.peer is None:
            # Section 3.3: the answer to an INIT sent to the server comes from the server's address.
            if relayed_from is not None or src != p.normal_addr(self.server):
                raise p.Rejected("server HANDSHAKE_RESP from elsewhere")
            self._on_server_resp(pending, data, frame, now)
            return
        if relayed_from is not None and relayed_from != attempt.peer:
            raise p.Rejected("relayed HANDSHAKE_RESP from another peer")
        payload, session = p.read_resp(pending.init, data, p.WINDOW_DAEMON, now)
        if payload.sender != attempt.peer:
            raise p.Rejected("HELLO_ACK from another peer")
        state = self.peer(attempt.peer)
        self._forget_inits_to(attempt.peer)
        for answered in (attempt, state.attempt):
            if answered is not None and (not answered.done or answered.answered_by is None):
                answered.done, answered.answered_by = True, frame.receiver
        self._install(state, session)
        self._note(f"HelloAck receiver={frame.receiver:#x}")
        path = "relay" if relayed_from is not None else "direct"
        if relayed_from is None:
            self._record_path(state, src)
        # Section 3, confirmation: the initiator sends one TRANSPORT frame at once.
        self.send_peer(state.id, p.Probe(int.from_bytes(os.urandom(8), "big")), path)

    def _on_server_resp(self, pending: Pending, data: bytes, frame: p.HandshakeResp, now: float) -> None:
        payload, session = p.read_resp(pending.init, data, p.WINDOW_SERVER, now)
        # Section 3: the first answer to any INIT of the attempt is taken; the others are forgotten.
        self._forget_inits_to(None)
        for answered in (pending.attempt, self.attempt):
            if answered is not None and not answered.done:
                answered.done, answered.answered_by = True, frame.receiver
        self._note(f"{type(payload).__name__} receiver={frame.receiver:#x}")
        if isinstance(payload, p.Error):
            # Section 3.2: no session; the daemon retries later.
            self.register_error = payload
            pending.attempt.error = payload
            if self.attempt is not None:
                self.attempt.error = payload
            self.log(f"{self.name}: registration refused: {payload.name}: {payload.message}")
            return
        for old in self.server_link.add(session):
            self.sessions.pop(old.local_index, None)
        self.sessions[session.local_index] = (session, None)
        self.id, self.keepalive, self.public_addr = payload.id, payload.keepalive, payload.addr
        self.register_error = None
        self.last_keepalive = time.monotonic()
        self.log(f"{self.name}: registered as id {self.id}, seen at {self.public_addr}")
        # Section 3, confirmation: a daemon sends KEEPALIVE at once on the new session.
        self.confirming = self.request(lambda seq: p.Keepalive(seq))

    def _install(self, state: PeerState, session: p.Session) -> None:
        for old in state.sessions.add(session):
            self.sessions.pop(old.local_index, None)
        self.sessions[session.local_index] = (session, state.id)

    def _init_allowed(self, src: Optional[tuple], now: float) -> bool:
        """Section 6, limits: 20 INITs a second per source IP, 50 in all (relayed ones: the 50 only)."""
        buckets = [("*", INIT_LIMIT_ALL)] if src is None else [(src[0], INIT_LIMIT_PER_IP), ("*", INIT_LIMIT_ALL)]
        counts = []
        for key, cap in buckets:
            start, count = self.init_budget.get(key, (now, 0))
            if now - start >= 1.0:
                start, count = now, 0
            if count >= cap:
                return False
            counts.append((key, start, count))
        for key, start, count in counts:
            self.init_budget[key] = (start, count + 1)
        return True

    def _on_init(self, data, src, relayed_from, now) -> None:
        if not self._init_allowed(src if relayed_from is None else None, now):
            raise p.Rejected("HANDSHAKE_INIT over the rate limit")
        accepted = p.read_init(self.key, data, {p.K_HELLO})
        hello = accepted.payload
        if relayed_from is not None and relayed_from != hello.sender:
            raise p.Rejected("relayed HELLO whose from is not RELAYED's from")
        state = self.peers.get(hello.sender)
        if state is None or state.key is None or not p.check_mac(state.key, accepted.initiator_public):
            raise p.Rejected("HELLO from a key not pinned for its id")
        if hello.timestamp <= state.last_timestamp:
            raise p.Rejected("HELLO timestamp not newer (replay)")
        if self.id is None:
            raise p.Rejected("no id yet")
        state.last_timestamp = hello.timestamp
        self._note(f"Hello from={hello.sender}")
        frame, session = p.answer_init(accepted, self._index(), p.HelloAck(self.id), p.WINDOW_DAEMON, now)
        self._install(state, session)  # unconfirmed: nothing is sent on it yet
        # Answered to the INIT's source, but the path does not move (section 6).
        if relayed_from is None:
            self.send_raw(frame, src, "HELLO RESP")
        else:
            self.request(lambda seq: p.Relay(seq, hello.sender, frame))

    def _on_cookie(self, data, src, now) -> None:
        reply = p.CookieReply.decode(data)
        if self._current is not None:
            self._current.answers_init = reply.receiver
        pending = self.pending.get(reply.receiver)
        if pending is None or pending.attempt.peer is not None or src != p.normal_addr(self.server):
            raise p.Rejected("COOKIE_REPLY for no pending REGISTER")
        cookie = reply.open(self.server_public, pending.init.mac1)
        self.cookie = (cookie, now, self.addr)
        self.cookie_replies += 1
        self._note("CookieReply")
        del self.pending[reply.receiver]
        self.log(f"{self.name}: got a cookie; sending a fresh INIT with mac2")
        # A fresh INIT (new ephemeral key, new timestamp) with mac2 (section 3.4).
        if self.attempt is pending.attempt and not self.attempt.done:
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
        was_confirmed = session.confirmed
        payload = session.open(frame, now)  # authenticated (and the session confirmed) from here on
        if self._current is not None and relayed_from is None:
            self._current.session = frame.receiver
        if owner is None:
            self._on_server_payload(payload)
            return
        state = self.peer(owner)
        if not was_confirmed:  # a responder's session, confirmed by its first frame: the newest now
            for old in state.sessions.confirm(session):
                self.sessions.pop(old.local_index, None)
        if relayed_from is None:
            self._record_path(state, src)
        path = "direct" if relayed_from is None else "relay"
        decoded = p.decode_payload(payload, {p.K_MESSAGE, p.K_MESSAGE_ACK, p.K_PROBE, p.K_PROBE_ACK})
        self._note(f"peer {type(decoded).__name__} from={owner}")
        self._on_peer_payload(state, decoded, path, src)

    def _on_server_payload(self, raw: bytes) -> None:
        try:
            payload = p.decode_payload(raw)
        except p.Malformed as err:
            raise p.Malformed(f"from the server: {err}") from err
        if isinstance(payload, p.Intro):
            self._offered(payload.sender, payload.key, payload.addr)
            self.intros.append(payload)
            self._note(f"Intro from={payload.sender}")
            return
        if isinstance(payload, p.Relayed):
            self.relayed.append(payload)
            self._note(f"Relayed from={payload.sender}")
            self.handle(payload.data, None, payload.sender)
            return
        if not isinstance(
            payload, (p.KeepaliveAck, p.ListAck, p.ConnectAck, p.UnregisterAck, p.RelayAck, p.Error)
        ):
            raise p.Malformed(f"server sent {type(payload).__name__}")
        seq = payload.seq
        if self._current is not None:
            self._current.reply_seq = seq
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
            self._offered(payload.target, payload.key, payload.addr)
        if isinstance(payload, p.KeepaliveAck):
            self.keepalive, self.public_addr = payload.keepalive, payload.addr

    def _on_peer_payload(self, state: PeerState, payload: p.Payload, path: str, src) -> None:
        dest = src if path == "direct" else None  # answers go back on the path they came by
        if isinstance(payload, p.Message):
            key = (state.id, payload.msg)
            self.inbox.setdefault(key, payload.text)
            self.inbox_paths.append((state.id, payload.msg, path))
            frame = self._seal_to(state, p.MessageAck(payload.msg).encode())
            self._to_peer(state, frame, path, "MESSAGE_ACK", dest)
        elif isinstance(payload, p.MessageAck):
            out = self.outbox.get(payload.msg)
            if out is not None and out.peer == state.id:
                out.acked = True
        elif isinstance(payload, p.Probe):
            frame = self._seal_to(state, p.ProbeAck(payload.nonce).encode())
            self._to_peer(state, frame, path, "PROBE_ACK", dest)
        elif isinstance(payload, p.ProbeAck):
            self.probe_acks[payload.nonce] = path

    # ------------------------------------------------------------------ timers

    def busy(self) -> list:
        """What this node still waits for: unanswered requests, unacknowledged
        messages, handshake attempts without an answer."""
        out = [f"request seq={r.seq}" for r in self.requests.values() if not r.done]
        out += [f"message {o.msg}" for o in self.outbox.values() if not o.acked]
        if self.attempt is not None and not self.attempt.done:
            out.append("REGISTER")
        out += [f"HELLO to {s.id}" for s in self.peers.values() if s.attempt and not s.attempt.done]
        return out

    def next_wake(self) -> float:
        times = [r.next_at for r in self.requests.values() if not r.done]
        times += [o.next_at for o in self.outbox.values() if not o.acked]
        if self.attempt is not None and not self.attempt.done:
            times.append(self.attempt.next_at)
        times += [s.attempt.next_at for s in self.peers.values()
                  if s.attempt and not s.attempt.done and s.attempt.next_at != float("inf")]
        if self.auto_keepalive and self.keepalive and self.server_sessions:
            times.append(self.last_keepalive + self.keepalive)
        return min(times, default=time.monotonic() + 1.0)

    def tick(self) -> None:
        now = time.monotonic()
        for req in list(self.requests.values()):
            if req.done or now < req.next_at:
                continue
            if req.tries >= p.REQUEST_TRIES or not req.retransmit:
                req.failed = True
                if req.retransmit and (self.attempt is None or self.attempt.done):
                    # Section 9: no answer to 5 tries: the server is taken as unreachable.
                    self.log(f"{self.name}: no answer to seq {req.seq}; handshaking again")
                    self.register()
            else:
                self._send_request(req, now)
        for out in self.outbox.values():
            if not out.acked and now >= out.next_at:
                self._send_message(out, now)
        if self.attempt is not None and not self.attempt.done and now >= self.attempt.next_at:
            self._register_try(now)
        for state in self.peers.values():
            attempt = state.attempt
            if attempt is None or attempt.done or now < attempt.next_at:
                continue
            if attempt.path == "direct" and now - attempt.started >= PUNCH_FOR:
                attempt.done = True  # punching gave up; the caller relays
            else:
                self._hello_try(state, now)
        if self.auto_keepalive and self.keepalive and self.server_sessions:
            if now >= self.last_keepalive + self.keepalive:
                self.last_keepalive = now
                self.request(lambda seq: p.Keepalive(seq))
            if now - self.server_sessions[0].created > p.REKEY_AFTER and self.registered:
                self.register()
        for index in [i for i, pend in self.pending.items() if now - pend.init.sent > p.PENDING_HANDSHAKE]:
            del self.pending[index]
        for state in self.peers.values():
            for old in state.sessions.expire(now):
                self.sessions.pop(old.local_index, None)


class Net:
    """Pumps several nodes until a condition holds."""

    def __init__(self, nodes: list) -> None:
        self.nodes = list(nodes)
        self.gone: list = []  # nodes removed, kept for `load_report`
        self.selector = selectors.DefaultSelector()
        for node in self.nodes:
            self.selector.register(node.sock, selectors.EVENT_READ, node)

    def add(self, node: Node) -> None:
        self.nodes.append(node)
        self.selector.register(node.sock, selectors.EVENT_READ, node)

    def remove(self, node: Node) -> None:
        self.selector.unregister(node.sock)
        self.nodes.remove(node)
        self.gone.append(node)
        node.close()

    def load_report(self) -> str:
        """How much retransmission the run needed: a measure of the load it ran under."""
        nodes = self.nodes + self.gone
        requests = [r for n in nodes for r in n.requests.values()]
        resent = sum(max(0, r.tries - 1) for r in requests if r.retransmit)
        inits = sum(len(n.init_indices) for n in nodes)
        attempts = sum(1 for n in nodes for _ in n.sent if _[0] == "REGISTER INIT")
        messages = [o for n in nodes for o in n.outbox.values()]
        return (f"{len(requests)} requests, {resent} retransmitted; {inits} INITs "
                f"({attempts} REGISTER); {sum(n.late_answers for n in nodes)} later handshake answers dropped; "
                f"{sum(max(0, o.sends - 1) for o in messages)} MESSAGE retransmissions")

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

    def wait_unread(self, node: Node, cond: Callable[[bytes], bool], timeout: float, what: str) -> None:
        """Waits until a datagram for which `cond` holds is the next one on `node`'s
        socket, and leaves it there unread; datagrams before it are handled. Other
        nodes are not pumped meanwhile."""
        end = time.monotonic() + timeout
        selector = selectors.DefaultSelector()
        selector.register(node.sock, selectors.EVENT_READ)
        try:
            while True:
                data = node.peek()
                if data is not None:
                    if cond(data):
                        return
                    node.read_one()
                    continue
                left = end - time.monotonic()
                if left <= 0:
                    raise Failure(f"timed out after {timeout:.1f} s waiting for {what}")
                selector.select(left)
        finally:
            selector.close()

    def settle(self, timeout: float, nodes: Optional[list] = None) -> None:
        """Waits until no node waits for anything (see `Node.busy`)."""
        nodes = self.nodes if nodes is None else nodes
        self.wait(lambda: not any(n.busy() for n in nodes), timeout,
                  "quiet: " + ", ".join(f"{n.name}: {n.busy()}" for n in nodes if n.busy()))

    def call(self, node: Node, make: Callable[[int], p.Payload], timeout: float = 10.0,
             retransmit: bool = True) -> p.Payload:
        """A request and its reply (an ERROR included); Failure when no reply comes."""
        req = node.request(make, retransmit)
        self.wait(lambda: req.done, timeout, f"{node.name}: reply to {p.PAYLOAD_NAMES[req.payload[0]]}")
        if req.failed:
            raise Failure(f"{node.name}: no reply to {p.PAYLOAD_NAMES[req.payload[0]]} after {req.tries} tries")
        return req.reply

    def register(self, node: Node, timeout: float = 10.0) -> Attempt:
        """A REGISTER attempt until REGISTERED (and its confirming KEEPALIVE answered)."""
        attempt = node.register()
        self.wait(lambda: attempt.done, timeout, f"{node.name}: REGISTERED")
        if attempt.error is not None:
            raise Failure(f"{node.name}: not registered: {attempt.error.name}: {attempt.error.message}")
        confirming = node.confirming
        self.wait(lambda: confirming.done, timeout, f"{node.name}: the KEEPALIVE that confirms the session")
        if not isinstance(confirming.reply, p.KeepaliveAck):
            raise Failure(f"{node.name}: the confirming KEEPALIVE got {confirming.reply or 'no answer'}")
        return attempt


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
