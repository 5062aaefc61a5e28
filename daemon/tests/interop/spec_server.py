"""A minimal rendezvous server written from docs/protocol.md, to check live.py.

This is not peerd and tests nothing of peerd: it lets `test_live_selftest.py`
run the live scenario end to end, so that a failure of live.py against the
real server is the server's (or the document's), not the scenario's. It keeps
everything in memory and serves one socket in one thread.

Sessions follow section 4: a new session becomes current at once unless the
current one is confirmed (so while none is confirmed the newest one answered
is current), else it is kept beside for 15 s; its first frame makes it
current unless it is older than a confirmed current one; the session it
replaces, and one beside that receives a frame, are kept 30 s more. INTRO
and RELAYED go on the current session, replies on the request's session.

    python3 spec_server.py [--listen 127.0.0.1:0] [--cookie-threshold N]

prints `listening on ADDR key BASE64` on stdout, then serves until killed.
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peerd_v2 as p  # noqa: E402

KEEPALIVE = 25
REPLAY_CACHE = 30.0
UNCONFIRMED_KEPT = 15.0  # an unconfirmed session is kept this long (section 4)
REPLACED_KEPT = 30.0  # and the session a confirmation replaced this long


@dataclass
class Peer:
    id: int
    key: bytes
    online: bool = False
    addr: Optional[tuple] = None
    refreshed: float = 0.0
    last_timestamp: int = -1
    current: Optional[p.Session] = None  # INTRO and RELAYED go on it
    kept: dict = field(default_factory=dict)  # local index -> (Session, kept until) for the others


class SpecServer:
    def __init__(self, sock: socket.socket, key: p.StaticKey, cookie_threshold: int) -> None:
        self.sock = sock
        self.key = key
        self.cookie_threshold = cookie_threshold
        self.by_key: dict = {}
        self.by_id: dict = {}
        self.sessions: dict = {}  # index -> (Session, Peer)
        self.cache: dict = {}  # (peer id, seq, payload) -> (reply, at)
        self.inits: deque = deque()  # times of INITs with a good mac1
        self.v1_answers: dict = {}  # source -> times of the v1 answers sent to it
        self.secret = os.urandom(32)

    def send(self, data: bytes, dest: tuple) -> None:
        self.sock.sendto(data, dest)

    def serve(self) -> None:
        while True:
            data, src = self.sock.recvfrom(65535)
            src = p.normal_addr(src[:2])
            if not data or len(data) > p.MAX_DATAGRAM:
                continue
            try:
                self.handle(data, src, time.monotonic())
            except (ValueError, struct.error):
                pass  # dropped, unanswered

    def handle(self, data: bytes, src: tuple, now: float) -> None:
        kind = data[0]
        if kind in (0x00, 0x01):
            self.stun(data, src)
        elif kind == 0x7B:
            self.v1(data, src, now)
        elif kind == p.KEY_REQUEST and len(data) >= p.KEY_REQUEST_MIN:
            self.send(p.key_reply(self.key.public), src)
        elif kind == p.HANDSHAKE_INIT:
            self.init(data, src, now)
        elif kind == p.TRANSPORT:
            self.transport(data, src, now)

    def stun(self, data: bytes, src: tuple) -> None:
        if len(data) < 20 or data[0:2] != b"\x00\x01" or data[4:8] != b"\x21\x12\xa4\x42":
            return
        ip = p.ip_port_bytes(src)
        port = struct.unpack(">H", ip[-2:])[0] ^ 0x2112
        addr = bytes(a ^ b for a, b in zip(ip[:-2], data[4:8]))
        attr = struct.pack(">HHBBH", 0x0020, 8, 0, 1, port) + addr
        self.send(struct.pack(">HH", 0x0101, len(attr)) + data[4:20] + attr, src)

    def v1(self, data: bytes, src: tuple, now: float) -> None:
        answer = p.v1_answer(p.v1_seq(data))
        if len(answer) > len(data):
            return
        times = self.v1_answers.setdefault(src, deque())
        while times and now - times[0] >= 1.0:
            times.popleft()
        if len(times) >= 10:  # at most 10 answers per second per source (section 7)
            return
        times.append(now)
        self.send(answer, src)

    def under_load(self, now: float) -> bool:
        self.inits.append(now)
        while self.inits and now - self.inits[0] > 1.0:
            self.inits.popleft()
        return self.cookie_threshold > 0 and len(self.inits) > self.cookie_threshold

    def init(self, data: bytes, src: tuple, now: float) -> None:
        frame = p.HandshakeInit.decode(data)
        if not p.check_mac(p.MAC(p.mac1_key(self.key.public), frame.mac1_input()), frame.mac1):
            return
        if self.under_load(now):
            cookie = p.cookie_value(self.secret, src)
            if not p.check_mac(p.MAC(cookie, frame.mac2_input()), frame.mac2):
                reply = p.seal_cookie(frame.sender, os.urandom(24), cookie, self.key.public, frame.mac1)
                self.send(reply.encode(), src)
                return
        accepted = p.read_init(self.key, data, {p.K_REGISTER})
        peer = self.by_key.get(accepted.initiator_public)
        if peer is not None and accepted.payload.timestamp <= peer.last_timestamp:
            return
        if peer is None:
            peer = Peer(len(self.by_id) + 1, accepted.initiator_public)
            self.by_key[peer.key], self.by_id[peer.id] = peer, peer
        peer.last_timestamp = accepted.payload.timestamp
        peer.online, peer.addr, peer.refreshed = True, src, now
        index = self.new_index()
        resp, session = p.answer_init(accepted, index, p.Registered(peer.id, KEEPALIVE, src), p.WINDOW_SERVER, now)
        self.sessions[index] = (session, peer)
        if peer.current is None or not peer.current.confirmed:
            # While no session is confirmed, the newest is current; the one it
            # replaces is kept as any unconfirmed session.
            if peer.current is not None:
                peer.kept[peer.current.local_index] = (peer.current, peer.current.created + UNCONFIRMED_KEPT)
            peer.current = session
        else:
            peer.kept[index] = (session, now + UNCONFIRMED_KEPT)
        self.send(resp, src)

    def new_index(self) -> int:
        while True:
            index = int.from_bytes(os.urandom(4), "big")
            if index not in self.sessions:
                return index

    def to_peer(self, peer: Peer, payload: p.Payload) -> None:
        """INTRO or RELAYED: on the current session, to the peer's address."""
        if peer.current is not None:
            self.send(peer.current.seal(payload.encode()), peer.addr)

    def received_on(self, peer: Peer, session: p.Session, now: float) -> None:
        """An authenticated frame arrived on `session` (section 4, rule 3): a
        session beside the current one becomes current unless it is older
        than a confirmed current one; otherwise it is kept 30 s more."""
        current = peer.current
        if session is current:
            return
        if current is not None and current.confirmed and current.created > session.created:
            peer.kept[session.local_index] = (session, now + REPLACED_KEPT)
            return
        peer.kept.pop(session.local_index, None)
        if current is not None:
            peer.kept[current.local_index] = (current, now + REPLACED_KEPT)
        peer.current = session

    def live_session(self, index: int, now: float):
        """(Session, Peer) for a frame's `receiver`, or None once it is no longer kept."""
        entry = self.sessions.get(index)
        if entry is None:
            return None
        session, peer = entry
        if session is not peer.current:
            kept = peer.kept.get(index)
            if kept is None or now > kept[1]:
                peer.kept.pop(index, None)
                del self.sessions[index]
                return None
        return entry

    def online(self, peer: Peer, now: float) -> bool:
        return peer.online and now - peer.refreshed <= 3 * KEEPALIVE

    def transport(self, data: bytes, src: tuple, now: float) -> None:
        if len(data) < 30:
            return
        frame = p.Transport.decode(data)
        entry = self.live_session(frame.receiver, now)
        if entry is None:
            return
        session, peer = entry
        raw = session.open(frame, now)
        self.received_on(peer, session, now)
        peer.addr = src
        reply = self.request(peer, raw, now)
        if reply is not None:
            self.send(session.seal(reply.encode()), src)

    def request(self, peer: Peer, raw: bytes, now: float) -> Optional[p.Payload]:
        kind = raw[0]
        seq = struct.unpack(">I", raw[1:5])[0] if len(raw) >= 5 else 0
        if kind >= 0x80:  # never answered (section 5.2)
            return None
        if kind not in (p.K_KEEPALIVE, p.K_LIST, p.K_CONNECT, p.K_UNREGISTER, p.K_RELAY):
            return p.Error(seq, 2, "unknown type")  # seq: bytes 1 .. 5, or 0 (section 5.3)
        try:
            req = p.decode_payload(raw)
        except p.Malformed:
            return p.Error(seq, 1, "malformed request")
        cached_key = (peer.id, seq, raw)
        if kind in (p.K_CONNECT, p.K_UNREGISTER, p.K_RELAY):
            hit = self.cache.get(cached_key)
            if hit is not None and now - hit[1] <= REPLAY_CACHE:
                return hit[0]
        if kind == p.K_KEEPALIVE:
            peer.online, peer.refreshed = True, now
            return p.KeepaliveAck(seq, KEEPALIVE, peer.addr)
        if not self.online(peer, now):
            return p.Error(seq, 5, "not registered")
        if kind == p.K_LIST:
            return self.list(peer, req, now)
        if kind == p.K_UNREGISTER:
            peer.online = False
            reply = p.UnregisterAck(seq)
        else:
            target = self.by_id.get(req.target)
            if req.target == peer.id:
                reply = p.Error(seq, 1, "target is the asker")
            elif target is None:
                reply = p.Error(seq, 6, f"peer {req.target} is unknown")
            elif not self.online(target, now):
                reply = p.Error(seq, 7, f"peer {req.target} is offline")
            elif kind == p.K_CONNECT:
                reply = p.ConnectAck(seq, target.id, target.key, target.addr)
                self.to_peer(target, p.Intro(peer.id, peer.key, peer.addr))
            elif p.TRANSPORT_OVERHEAD + 9 + len(req.data) > p.MAX_DATAGRAM:
                reply = p.Error(seq, 4, "too large")
            else:
                self.to_peer(target, p.Relayed(peer.id, req.data))
                reply = p.RelayAck(seq)
        self.cache[cached_key] = (reply, now)
        return reply

    def list(self, peer: Peer, req: p.List, now: float) -> p.ListAck:
        others = sorted(
            (q for q in self.by_id.values() if q.id > req.after and q.id != peer.id and self.online(q, now)),
            key=lambda q: q.id,
        )
        reply = p.ListAck(req.seq, False, [])
        for i, q in enumerate(others):
            candidate = p.ListAck(req.seq, False, reply.entries + [(q.id, q.addr)])
            if p.TRANSPORT_OVERHEAD + len(candidate.encode()) > p.MAX_DATAGRAM:
                reply.more = True
                break
            reply = candidate
        return reply


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--cookie-threshold", type=int, default=1000)
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, int(port)))
    key = p.StaticKey.generate()
    addr = sock.getsockname()
    print(f"listening on {addr[0]}:{addr[1]} key {p.key_to_text(key.public)}", flush=True)
    SpecServer(sock, key, args.cookie_threshold).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
