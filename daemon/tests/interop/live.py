"""Live interop of protocol v2 against a running `peerd server`.

    python3 live.py --server 127.0.0.1:8080 --server-key BASE64 [--server-fingerprint FP]
                    [--cookies] [--known-failure TEXT ...] [-v]

(or PEERD_SERVER and PEERD_SERVER_KEY in the environment). Python peers
built from docs/protocol.md alone register, list, connect, handshake with
each other directly and through the relay, exchange messages, and the
server is sent hostile datagrams. Each check prints one line; the exit
status is 0 only if every check passed.

"No answer" is checked with a barrier, never a sleep (see the comment on
barriers below).

`--cookies` runs the scenario for a server started with
`--cookie-threshold 1`: registrations under load go through COOKIE_REPLY.

`--known-failure TEXT` marks the check whose name contains TEXT as a known
failure of the server: its failure is printed as `known` and does not fail
the run, and its success fails the run (the mark must then go), so the mark
can never hide a change. A mark that matches no check fails the run too.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
import traceback
from pathlib import Path
from typing import Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peerd_v2 as p  # noqa: E402
from peerd_v2_node import Net, Node, u32  # noqa: E402

WAIT = 20.0  # seconds any single step may take (a deadline, never a delay)
PAGING_IPS = 4  # loopback addresses the LIST paging peers are spread over


class Checks:
    """Runs named checks in order; a failed prerequisite skips the rest."""

    def __init__(self, known: list) -> None:
        self.passed = 0
        self.failed = 0
        self.known_failed = 0
        self.known = known
        self.marks_used: set = set()
        self.skipping: Optional[str] = None

    def run(self, name: str, fn: Callable[[], Optional[str]], prerequisite: bool = False) -> None:
        if self.skipping is not None:
            print(f"skip - {name} (after: {self.skipping})", flush=True)
            self.failed += 1
            return
        marks = [k for k in self.known if k in name]
        self.marks_used.update(marks)
        try:
            note = fn()
        except Exception as err:  # noqa: BLE001 - any failure of a check is reported as one
            if os.environ.get("PEERD_INTEROP_TRACE"):
                traceback.print_exc()
            if marks:
                self.known_failed += 1
                print(f"known - {name}: {err}", flush=True)
                return
            self.failed += 1
            print(f"FAIL - {name}: {err}", flush=True)
            if prerequisite:
                self.skipping = name
            return
        if marks:
            self.failed += 1
            print(f"FIXED - {name}: passes now; remove its --known-failure" + (f" ({note})" if note else ""),
                  flush=True)
            return
        self.passed += 1
        print(f"ok   - {name}" + (f" ({note})" if note else ""), flush=True)

    def summary(self) -> str:
        for mark in self.known:
            if mark not in self.marks_used:
                self.failed += 1
                print(f"FAIL - --known-failure {mark!r} matches no check", flush=True)
        known = f", {self.known_failed} known failure(s)" if self.known else ""
        return f"live: {self.passed} passed, {self.failed} failed{known}"


def expect(cond: bool, message: str) -> None:
    if not cond:
        raise AssertionError(message)


# ----------------------------------------------------------------- barriers
#
# "No answer" is checked with a barrier, never with a sleep. Before the
# datagram that must go unanswered, every node waits until nothing it sent
# is still waiting for an answer (`Net.settle`). After it, the same socket
# sends a request of the same class (a handshake after a handshake, a
# TRANSPORT request after a TRANSPORT frame, a v1 datagram after a v1
# datagram) whose answer can be told apart, and waits for that answer: what
# the server sent in answer to the earlier datagram has arrived by then, for
# a server that handles one source's datagrams of one class in order.
#
# Every datagram received in between is then matched to what it answers: a
# server reply by its `seq`, a HANDSHAKE_RESP or COOKIE_REPLY by the INIT
# index it names. A late copy of the answer to an earlier request of the
# node (a retransmission crossed its reply under load) is not an answer to
# the hostile datagram; anything that answers the hostile datagram, or that
# nothing explains, fails the check. A request whose frame is replayed is
# sent without retransmission, so that each of its replies answers one frame.


def unexplained(node: Node, start: int, hostile_seqs: tuple = (), hostile_inits: tuple = (),
                relayed_from: Optional[int] = None) -> list:
    """What `node` received since `start` that does not answer one of its own earlier
    datagrams (nor, with `relayed_from`, come RELAYED from that peer)."""
    own_seqs = set(node.requests) - set(hostile_seqs)
    own_inits = set(node.init_indices) - set(hostile_inits)
    out = []
    for r in node.received[start:]:
        if r.reply_seq is not None and r.reply_seq in own_seqs:
            continue
        if r.answers_init is not None and r.answers_init in own_inits:
            continue
        if relayed_from is not None and r.note == f"Relayed from={relayed_from}":
            continue
        out.append(f"{p.frame_kind(r.data)} ({r.note or 'unread'})")
    return out


def keepalive_barrier(net: Net, node: Node) -> None:
    reply = net.call(node, lambda seq: p.Keepalive(seq), WAIT)
    expect(isinstance(reply, p.KeepaliveAck), f"{node.name}: the barrier KEEPALIVE got {reply}")


def handshake_barrier(net: Net, node: Node) -> None:
    net.register(node, WAIT)


def v1_answers(node: Node, seq: int, start: int = 0) -> list:
    return [r for r in node.received[start:] if r.data == p.v1_answer(seq)]


def v1_request(seq: int, padding: int = 200) -> bytes:
    return b'{"v":1,"type":"REGISTER","seq":%d,"token":"%s"}' % (seq, b"x" * padding)


def v1_barrier(net: Net, node: Node, seq: int) -> None:
    start = len(node.received)
    node.send_raw(v1_request(seq), node.server, "v1 barrier")
    net.wait(lambda: v1_answers(node, seq, start), WAIT, f"the unsupported_version answer to v1 seq {seq}")


# ----------------------------------------------------------------- helpers


def list_all(net: Net, node: Node) -> tuple[list, int]:
    """Every entry of LIST, page by page; checks the paging rules on the way."""
    after, entries, pages = 0, [], 0
    while True:
        reply = net.call(node, lambda seq, a=after: p.List(seq, a), WAIT)
        expect(isinstance(reply, p.ListAck), f"LIST answered {reply}")
        pages += 1
        ids = [i for i, _ in reply.entries]
        expect(ids == sorted(ids) and all(i > after for i in ids), f"page not ascending after {after}: {ids}")
        expect(not (reply.more and not ids), "a page with more = 1 and no entries")
        frame_len = p.TRANSPORT_OVERHEAD + len(reply.encode())
        expect(frame_len <= p.MAX_DATAGRAM, f"LIST_ACK frame of {frame_len} bytes")
        entries += reply.entries
        if not reply.more:
            return entries, pages
        after = ids[-1]
        expect(pages < 10_000, "LIST never ends")


def error_of(reply: p.Payload, name: str) -> p.Error:
    expect(isinstance(reply, p.Error), f"expected ERROR {name}, got {reply}")
    expect(reply.name == name, f"expected ERROR {name}, got {reply.name} ({reply.message!r})")
    return reply


def multibyte_text(size: int = 1000) -> str:
    unit = "\u00e9\u2713\U0001f600a"  # 2 + 3 + 4 + 1 bytes of UTF-8
    text = unit * (size // 10)
    assert len(text.encode("utf-8")) == size
    return text


def held(holder: Node, other: Node, session: p.Session):
    """`holder`'s side of `other`'s `session`; fails when `holder` no longer keeps it."""
    for s in holder.peers[other.id].sessions.all():
        if s.local_index == session.remote_index:
            return s
    raise AssertionError(
        f"{holder.name} no longer holds the session {other.name} sends on ({session.remote_index:#010x}): "
        f"it keeps {[hex(s.local_index) for s in holder.peers[other.id].sessions.all()]} "
        f"after {len(other.init_indices)} INITs from {other.name}"
    )


def on_loopback(server: tuple) -> bool:
    try:
        return ipaddress.ip_address(server[0]).is_loopback and ":" not in server[0]
    except ValueError:
        return False


# ---------------------------------------------------------------- scenario


def scenario(server: tuple, server_key: bytes, fingerprint: Optional[str], list_peers: int,
             verbose: bool, known: list) -> Checks:
    checks = Checks(known)
    log = (lambda line: print(f"    {line}", flush=True)) if verbose else None

    def node(name: str, **kw) -> Node:
        return Node(name, server, server_key, log=log, auto_keepalive=False, **kw)

    a, b = node("A"), node("B")
    raw = node("R")  # hostile datagrams come from here
    net = Net([a, b, raw])
    state: dict = {}

    def key_reply() -> str:
        start = len(raw.received)
        raw.send_raw(p.key_request(64), server, "KEY_REQUEST")
        net.wait(lambda: raw.key_replies, WAIT, "KEY_REPLY")
        replies = [r.data for r in raw.received[start:] if r.data[:1] == bytes([p.KEY_REPLY])]
        expect(len(replies[0]) == 34, f"KEY_REPLY of {len(replies[0])} bytes")
        expect(p.decode_key_reply(replies[0]) == server_key, "KEY_REPLY carries another key than the server's")
        fp = p.fingerprint(server_key)
        if fingerprint is not None:
            expect(fp == fingerprint, f"the server prints fingerprint {fingerprint}, section 1.1 gives {fp}")
        return f"fingerprint {fp}" + (", as the server prints it" if fingerprint else "")

    checks.run("a 64-byte KEY_REQUEST gets a 34-byte KEY_REPLY with the server's key", key_reply, True)

    def key_request_sizes() -> None:
        count = len(raw.key_replies)
        raw.send_raw(p.key_request(p.MAX_DATAGRAM), server, "KEY_REQUEST of MAX_DATAGRAM")
        net.wait(lambda: len(raw.key_replies) > count, WAIT, "KEY_REPLY to a 1200-byte KEY_REQUEST")
        net.settle(WAIT)
        start = len(raw.received)
        raw.send_raw(p.key_request(63), server, "short KEY_REQUEST")
        raw.send_raw(p.key_request(p.MAX_DATAGRAM + 1), server, "KEY_REQUEST over MAX_DATAGRAM")
        handshake_barrier(net, raw)
        got = unexplained(raw, start)
        expect(not got, f"a 63- or 1201-byte KEY_REQUEST was answered: {got}")

    checks.run("a 1200-byte KEY_REQUEST is answered; 63 or 1201 bytes get nothing", key_request_sizes)

    def register() -> str:
        for n in (a, b):
            net.register(n, WAIT)
            expect(n.public_addr == n.addr, f"{n.name}: REGISTERED addr {n.public_addr}, socket {n.addr}")
            expect(n.keepalive and n.keepalive > 0, f"{n.name}: keepalive {n.keepalive}")
        expect(a.id != b.id, f"both peers got id {a.id}")
        state["a_init"] = next(d for what, d, _ in a.sent if what == "REGISTER INIT")
        resps = [r.data for r in a.received if r.data[:1] == bytes([p.HANDSHAKE_RESP])]
        expect(all(len(r) <= len(state["a_init"]) for r in resps), "a HANDSHAKE_RESP longer than its INIT")
        return f"A is {a.id}, B is {b.id}, keepalive {a.keepalive} s"

    checks.run("two peers register (REGISTER handshake, REGISTERED, a confirming KEEPALIVE)", register, True)

    def reregister() -> str:
        first = a.id
        net.register(a, WAIT)
        expect(a.id == first, f"the same key got id {a.id}, then {first}")
        return "new session, same id"

    checks.run("a new REGISTER handshake with the same key keeps the id", reregister, True)

    def keepalive() -> None:
        reply = net.call(a, lambda seq: p.Keepalive(seq), WAIT)
        expect(isinstance(reply, p.KeepaliveAck), f"KEEPALIVE answered {reply}")
        expect(reply.addr == a.addr, f"KEEPALIVE_ACK addr {reply.addr}, socket {a.addr}")

    checks.run("KEEPALIVE gets KEEPALIVE_ACK with the same seq and the source address", keepalive, True)

    def listing() -> str:
        for me, other in ((a, b), (b, a)):
            entries, pages = list_all(net, me)
            ids = dict(entries)
            expect(other.id in ids, f"{me.name}'s LIST lacks {other.name} ({other.id}): {sorted(ids)}")
            expect(me.id not in ids, f"{me.name}'s LIST shows itself")
            expect(ids[other.id] == other.addr, f"{other.name} listed at {ids[other.id]}, is at {other.addr}")
        return f"{len(entries)} peer(s) in {pages} page(s)"

    checks.run("LIST shows each peer the other, not itself", listing, True)

    def connect_errors() -> None:
        error_of(net.call(a, lambda seq: p.Connect(seq, a.id), WAIT), "bad_request")
        error_of(net.call(a, lambda seq: p.Connect(seq, max(a.id, b.id) + 1_000_000), WAIT), "unknown_peer")
        error_of(net.call(a, lambda seq: p.Relay(seq, max(a.id, b.id) + 1_000_000, b"\xa4"), WAIT), "unknown_peer")

    checks.run("CONNECT to itself: bad_request; to an id never given: unknown_peer", connect_errors)

    def connect() -> str:
        intros = len(b.intros)
        req = a.request(lambda seq: p.Connect(seq, b.id))
        net.wait(lambda: req.done and len(b.intros) > intros, WAIT, "CONNECT_ACK at A and INTRO at B")
        ack = req.reply
        expect(isinstance(ack, p.ConnectAck), f"CONNECT answered {ack}")
        expect(ack.target == b.id and ack.key == b.key.public, "CONNECT_ACK names another peer or key")
        expect(ack.addr == b.addr, f"CONNECT_ACK addr {ack.addr}, B is at {b.addr}")
        intro = b.intros[-1]
        expect(intro.sender == a.id and intro.key == a.key.public, f"INTRO {intro}")
        expect(intro.addr == a.addr, f"INTRO addr {intro.addr}, A is at {a.addr}")
        expect(a.peers[b.id].key == b.key.public and b.peers[a.id].key == a.key.public, "keys not pinned")
        return f"B at {ack.addr[0]}:{ack.addr[1]}"

    checks.run("CONNECT gives the other's key and address; INTRO arrives at the target", connect, True)

    def connect_retransmission() -> None:
        net.settle(WAIT)
        intros = len(b.intros)
        req = a.request(lambda seq: p.Connect(seq, b.id), retransmit=False)
        net.wait(lambda: req.done, WAIT, "CONNECT_ACK")
        a.retransmit(req)
        a.retransmit(req)
        net.wait(lambda: req.replies >= 3, WAIT, "CONNECT_ACK to each of 3 copies")
        expect(len(set(req.frames)) == 3, "a retransmission is a new TRANSPORT frame")
        keepalive_barrier(net, b)  # an INTRO for a copy would reach B before this reply
        expect(len(b.intros) == intros + 1, f"{len(b.intros) - intros} INTRO for one CONNECT sent 3 times")
        keepalive_barrier(net, a)
        expect(req.replies == 3, f"{req.replies} replies to 3 copies")

    checks.run("a retransmitted CONNECT (same seq) gets the reply again and no second INTRO", connect_retransmission)

    def register_answered_twice(fresh: bool, kept: str) -> str:
        # Section 3: the daemon takes the first answer it reads of its attempt
        # and drops the other; section 4: the server sends INTRO and RELAYED
        # on its current session, which an unconfirmed session never takes
        # from a confirmed one. `kept` is the INIT whose answer S reads first.
        s = node("S")
        net.add(s)
        try:
            old = None
            if not fresh:
                net.register(s, WAIT)
                old = s.server_sessions[0]
            net.settle(WAIT)
            attempt = s.register()
            first = attempt.indices[0]
            net.wait_unread(s, lambda d: d[:1] == bytes([p.HANDSHAKE_RESP]) and u32(d, 5) == first, WAIT,
                            "the answer to the first INIT (left unread)")
            late = s.take() if kept == "second" else None  # read after the second answer
            s.retransmit_register()  # the attempt's next INIT, sent before the first answer is read
            attempt.next_at = float("inf")  # and no third one, however slow the answers
            second = attempt.indices[1]
            net.wait(lambda: attempt.done, WAIT, "REGISTERED")
            want = first if kept == "first" else second
            expect(attempt.answered_by == want, f"S took the answer to INIT {attempt.answered_by:#x}, not {want:#x}")
            if late is not None:
                s.inject(*late)
            else:
                net.wait(lambda: any(r.answers_init == second for r in s.received), WAIT,
                         "the server's answer to the second INIT")
            dropped = [r for r in s.received if r.answers_init in (first, second) and r.answers_init != want]
            expect(len(dropped) == 1 and dropped[0].note.startswith("dropped"),
                   f"the other answer: {[r.note for r in dropped]}")
            net.wait(lambda: s.confirming.done, WAIT, "the confirming KEEPALIVE")
            expect(isinstance(s.confirming.reply, p.KeepaliveAck), f"confirming KEEPALIVE: {s.confirming.reply}")
            kept_session = s.server_sessions[0]
            expect(kept_session.local_index == want, "S sends on another session than the one it kept")
            notes = []
            if old is not None:
                # The session a confirmation replaced is kept for 30 s; a frame
                # on it does not confirm it again (it stays older).
                start = len(s.received)
                req = s.request(lambda seq: p.Keepalive(seq), session=old)
                net.wait(lambda: req.done, WAIT, "the reply to a KEEPALIVE on the replaced session")
                expect(isinstance(req.reply, p.KeepaliveAck), f"KEEPALIVE on the replaced session: {req.reply}")
                on = [r.session for r in s.received[start:] if r.reply_seq == req.seq]
                expect(on == [old.local_index], f"the reply came on {on}, not on the session asked on")
                notes.append("the replaced session still answered on")
            start, intros, relayed = len(s.received), len(s.intros), len(s.relayed)
            reply = net.call(b, lambda seq: p.Connect(seq, s.id), WAIT)
            expect(isinstance(reply, p.ConnectAck), f"CONNECT answered {reply}")
            data = b"\xa4 relayed to the session S kept"
            reply = net.call(b, lambda seq: p.Relay(seq, s.id, data), WAIT)
            expect(isinstance(reply, p.RelayAck), f"RELAY answered {reply}")
            keepalive_barrier(net, s)  # INTRO and RELAYED were sent before this reply
            got = [(r.note, r.session) for r in s.received[start:] if r.data[:1] == bytes([p.TRANSPORT])]
            expect(len(s.intros) == intros + 1 and len(s.relayed) == relayed + 1,
                   f"INTRO and RELAYED not both on the session S kept ({want:#x}); S got {got}")
            came_on = {r.session for r in s.received[start:]
                       if r.note.startswith("Intro") or r.note.startswith("Relayed")}
            expect(came_on == {want}, f"INTRO and RELAYED came on {came_on}, S kept {want:#x}")
            return "; ".join(notes + [f"INTRO and RELAYED on the session of the {kept} INIT"])
        finally:
            net.remove(s)

    for fresh in (True, False):
        for kept in ("first", "second"):
            who = "a new key" if fresh else "a registered key"
            checks.run(
                f"REGISTER of {who} answered twice, the {kept} answer read first: "
                "INTRO and RELAYED come on the session the daemon kept",
                lambda fresh=fresh, kept=kept: register_answered_twice(fresh, kept),
            )

    def unconfirmed_session_confirmed_later() -> str:
        # Section 4: the server keeps an unconfirmed session for 15 s and
        # receives on it; once its first frame arrives it is the one confirmed
        # last, so INTRO and RELAYED move to it.
        s = node("S")
        net.add(s)
        try:
            net.register(s, WAIT)
            net.settle(WAIT)
            attempt = s.register()
            first = attempt.indices[0]
            net.wait_unread(s, lambda d: d[:1] == bytes([p.HANDSHAKE_RESP]) and u32(d, 5) == first, WAIT,
                            "the answer to the first INIT (left unread)")
            s.retransmit_register()
            attempt.next_at = float("inf")
            second = attempt.indices[1]
            spare = s.pending[second].init  # the test keeps what S forgets
            net.wait(lambda: attempt.done and s.confirming.done, WAIT, "REGISTERED and the confirming KEEPALIVE")
            expect(attempt.answered_by == first, "S did not take the first answer")
            net.wait(lambda: any(r.answers_init == second for r in s.received), WAIT, "the answer to the second INIT")
            resp = next(r.data for r in s.received if r.answers_init == second)
            _, other = p.read_resp(spare, resp, p.WINDOW_SERVER, spare.sent)
            s.sessions[other.local_index] = (other, None)  # so that S reads what comes on it
            start = len(s.received)
            req = s.request(lambda seq: p.Keepalive(seq), session=other)
            net.wait(lambda: req.done, WAIT, "the reply to a KEEPALIVE on the unconfirmed session")
            expect(isinstance(req.reply, p.KeepaliveAck), f"KEEPALIVE on the unconfirmed session: {req.reply}")
            on = [r.session for r in s.received[start:] if r.reply_seq == req.seq]
            expect(on == [second], f"the reply came on {on}, not on the session asked on")
            start = len(s.received)
            reply = net.call(b, lambda seq: p.Connect(seq, s.id), WAIT)
            expect(isinstance(reply, p.ConnectAck), f"CONNECT answered {reply}")
            reply = net.call(b, lambda seq: p.Relay(seq, s.id, b"\xa4 relayed"), WAIT)
            expect(isinstance(reply, p.RelayAck), f"RELAY answered {reply}")
            keepalive_barrier(net, s)
            came_on = [r.session for r in s.received[start:]
                       if r.note.startswith("Intro") or r.note.startswith("Relayed")]
            expect(came_on == [second, second],
                   f"INTRO and RELAYED came on {came_on}; the session confirmed last is {second:#x}")
            return "answered on; INTRO and RELAYED follow it once its first frame arrived"
        finally:
            net.remove(s)

    checks.run("a session the server answered but nobody confirmed is kept, and becomes current on its first frame",
               unconfirmed_session_confirmed_later)

    def hello_direct() -> str:
        attempt = a.hello(b.id, "direct")
        net.wait(lambda: attempt.done, WAIT, "HELLO_ACK from B")
        sa = a.session_with(b.id)
        expect(sa is not None and sa.local_index == attempt.answered_by, "A sends on another session")
        sb = held(b, a, sa)
        net.wait(lambda: sb.confirmed, WAIT, "A's PROBE confirming the session at B")
        expect(b.session_with(a.id) is sb, "B sends on another session than the one A confirmed")
        expect(a.peers[b.id].direct_addr == b.addr and b.peers[a.id].direct_addr == a.addr, "direct paths")
        return f"indices {sa.local_index:#010x} / {sb.local_index:#010x}"

    checks.run("HELLO handshake directly; the initiator's PROBE confirms it at the responder", hello_direct, True)

    def exchange(path: str, text_ab: str, text_ba: str) -> None:
        for me, other, text in ((a, b, text_ab), (b, a, text_ba)):
            out = me.send_message(other.id, text, path)
            net.wait(lambda: out.acked, WAIT, f"MESSAGE_ACK from {other.name} ({path})")
            key = (me.id, out.msg)
            expect(other.inbox.get(key) == text, f"{other.name} stored {other.inbox.get(key)!r}")
            paths = {pth for s, m, pth in other.inbox_paths if (s, m) == key}
            expect(paths == {path}, f"the MESSAGE came by {paths}, sent {path}")
            nonce = me.probe(other.id, path)
            net.wait(lambda: nonce in me.probe_acks, WAIT, f"PROBE_ACK from {other.name} ({path})")
            expect(me.probe_acks[nonce] == path, f"PROBE_ACK came by {me.probe_acks[nonce]}")

    checks.run(
        "MESSAGE/MESSAGE_ACK and PROBE/PROBE_ACK both ways, directly",
        lambda: exchange("direct", "hello B, directly \u2713", "hello A, directly \u00e9"),
    )

    def hello_answered_thrice() -> str:
        net.settle(WAIT)
        before = {s.local_index for s in b.peers[a.id].sessions.all()}
        attempt = a.hello(b.id, "direct", copies=3, retry=False)
        net.wait(lambda: attempt.done, WAIT, "HELLO_ACK from B")
        net.wait(lambda: sum(1 for r in a.received if r.answers_init in attempt.indices) >= 3, WAIT,
                 "B's answers to the 3 INITs")
        sa = a.session_with(b.id)
        new = [s for s in b.peers[a.id].sessions.all() if s.local_index not in before]
        expect(len(new) == 3, f"B made {len(new)} sessions for 3 INITs")
        mine = held(b, a, sa)
        net.wait(lambda: mine.confirmed, WAIT, "A's PROBE on the session it kept")
        expect([s.confirmed for s in new].count(True) == 1, "B confirmed a session A never sent on")
        expect(b.session_with(a.id) is mine, "B sends on a session A dropped")
        exchange("direct", "after three INITs", "answered on the confirmed session")
        return "B sends on the one session A kept"

    checks.run("a HELLO answered three times: the responder sends only on the session the initiator confirmed",
               hello_answered_thrice)

    def simultaneous_hello() -> str:
        net.settle(WAIT)
        ab, ba = a.hello(b.id, "direct"), b.hello(a.id, "direct")
        net.wait(lambda: ab.done and ba.done, WAIT, "both HELLO_ACKs")
        net.settle(WAIT)
        exchange("direct", "crossed handshakes, A to B", "crossed handshakes, B to A")
        sa, sb = a.session_with(b.id), b.session_with(a.id)
        held(b, a, sa)
        held(a, b, sb)
        return "each sends on a session the other holds"

    checks.run("both peers start a HELLO at once; messages flow both ways", simultaneous_hello)

    def init_moves_no_path() -> str:
        # A's valid INIT, sent from another address: B answers it there, but
        # its path to A stays (section 6), and it sends nothing on that session.
        m = node("M")
        net.add(m)
        try:
            net.settle(WAIT)
            stamp = a._timestamp()
            init = p.start_handshake(a.key, b.key.public, 0x1D1D1D1D, p.Hello(stamp, a.id))
            before = {s.local_index for s in b.peers[a.id].sessions.all()}
            m.send_raw(init.frame, b.addr, "A's INIT from another address")
            net.wait(lambda: any(r.data[:1] == bytes([p.HANDSHAKE_RESP]) for r in m.received), WAIT,
                     "B's answer at the INIT's source")
            new = [s for s in b.peers[a.id].sessions.all() if s.local_index not in before]
            expect(len(new) == 1 and not new[0].confirmed, "B's session for that INIT")
            expect(b.peers[a.id].direct_addr == a.addr, f"B's path to A moved to {b.peers[a.id].direct_addr}")
            exchange("direct", "path unchanged, A to B", "path unchanged, B to A")
            expect(len(m.received) == 1, f"M got {len(m.received)} datagrams; only the answer was due")
            return "answered at the source; path and sending session unchanged"
        finally:
            net.remove(m)

    checks.run("a received INIT is answered but moves no path", init_moves_no_path)

    def hello_relayed() -> str:
        old = a.session_with(b.id)
        relayed = len(b.relayed)
        attempt = a.hello(b.id, "relay")
        net.wait(lambda: attempt.done, WAIT, "HELLO_ACK from B through the relay")
        expect(a.session_with(b.id) is not old, "no new session")
        expect(len(b.relayed) > relayed, "the INIT did not come RELAYED")
        mine = held(b, a, a.session_with(b.id))
        net.wait(lambda: mine.confirmed, WAIT, "A's relayed PROBE confirming the session at B")
        return f"new session {a.session_with(b.id).local_index:#010x}"

    checks.run("a HELLO handshake through RELAY/RELAYED", hello_relayed, True)

    checks.run(
        "MESSAGE/MESSAGE_ACK and PROBE/PROBE_ACK both ways through RELAY/RELAYED",
        lambda: exchange("relay", "hello B, relayed", "hello A, relayed"),
    )

    def long_text() -> str:
        text = multibyte_text(1000)
        exchange("relay", text, text[::-1])
        return f"{len(text)} characters, 1000 bytes of UTF-8"

    checks.run("a 1000-byte text with multibyte characters, relayed both ways", long_text)

    def replayed_transport() -> None:
        net.settle(WAIT)
        req = a.request(lambda seq: p.Keepalive(seq), retransmit=False)
        net.wait(lambda: req.done, WAIT, "KEEPALIVE_ACK")
        expect(req.replies == 1, f"{req.replies} replies to one KEEPALIVE")
        start = len(a.received)
        a.send_raw(req.frames[0], server, "replayed KEEPALIVE")
        keepalive_barrier(net, a)
        got = unexplained(a, start, hostile_seqs=(req.seq,))
        expect(not got and req.replies == 1, f"a replayed TRANSPORT was answered: {got}")
        state["replayed_keepalive"] = req.frames[0]

    checks.run("a replayed TRANSPORT frame gets no answer", replayed_transport)

    def replayed_relay() -> None:
        net.settle(WAIT)
        nonce = 0x5EED
        frame = a._seal_to(a.peer(b.id), p.Probe(nonce).encode())
        req = a.request(lambda seq: p.Relay(seq, b.id, frame), retransmit=False)
        net.wait(lambda: req.done and nonce in a.probe_acks, WAIT, "RELAY_ACK and the relayed PROBE_ACK")
        net.settle(WAIT)
        start = len(a.received)
        a.send_raw(req.frames[0], server, "replayed RELAY")
        # Barrier at B: a new relayed PROBE; a second RELAYED of the old frame would come first.
        barrier = a.probe(b.id, "relay")
        net.wait(lambda: barrier in a.probe_acks, WAIT, "PROBE_ACK through the relay")
        copies = [r for r in b.relayed if r.data == frame]
        expect(len(copies) == 1, f"B got {len(copies)} RELAYED of one RELAY frame sent twice")
        keepalive_barrier(net, a)
        got = unexplained(a, start, hostile_seqs=(req.seq,), relayed_from=b.id)  # B's barrier PROBE_ACK
        expect(not got and req.replies == 1, f"a replayed RELAY was answered: {got}")

    checks.run("a replayed RELAY frame is neither forwarded again nor answered", replayed_relay)

    def replayed_init_same_source() -> str:
        first = a.id
        net.settle(WAIT)
        start = len(a.received)
        a.send_raw(state["a_init"], server, "replayed INIT")
        hostile = (u32(state["a_init"], 1),)
        keepalive_barrier(net, a)  # the session still works
        handshake_barrier(net, a)
        got = unexplained(a, start, hostile_inits=hostile)
        expect(not got, f"a replayed HANDSHAKE_INIT was answered: {got}")
        expect(a.id == first, f"A's id changed from {first} to {a.id}")
        return "the session still works; a new handshake still gets the same id"

    checks.run("a replayed HANDSHAKE_INIT gets no answer; the session still works", replayed_init_same_source)

    def where_is_a() -> tuple:
        reply = net.call(b, lambda seq: p.Connect(seq, a.id), WAIT)
        expect(isinstance(reply, p.ConnectAck), f"CONNECT answered {reply}")
        return reply.addr

    def replay_from_elsewhere() -> None:
        m = node("M")
        net.add(m)
        try:
            net.settle(WAIT)
            start = len(m.received)
            m.send_raw(state["a_init"], server, "A's INIT replayed")
            handshake_barrier(net, m)
            got = unexplained(m, start, hostile_inits=(u32(state["a_init"], 1),))
            expect(not got, f"a replayed INIT from another address was answered: {got}")
            start = len(m.received)
            m.send_raw(state["replayed_keepalive"], server, "A's KEEPALIVE replayed")
            keepalive_barrier(net, m)
            got = unexplained(m, start)
            expect(not got, f"a replayed TRANSPORT from another address was answered: {got}")
            addr = where_is_a()
            expect(addr == a.addr, f"A's address moved to {addr} (A is at {a.addr})")
        finally:
            net.remove(m)

    checks.run("replays from another address change nothing (A's address stays)", replay_from_elsewhere)

    def roaming() -> str:
        # A fresh frame of A's session from another address is A having moved.
        m = node("M")
        net.add(m)
        try:
            net.settle(WAIT)
            seq = 0x0B0B0B0B
            frame = a.server_sessions[0].seal(p.Keepalive(seq).encode())
            m.send_raw(frame, server, "A's fresh KEEPALIVE from M's socket")
            net.wait(lambda: any(r.data[:1] == bytes([p.TRANSPORT]) for r in m.received), WAIT,
                     "the KEEPALIVE_ACK at the new source")
            moved = where_is_a()
            expect(moved == m.addr, f"A's address is {moved} after an authenticated frame from {m.addr}")
            keepalive_barrier(net, a)  # A again from its own socket
            back = where_is_a()
            expect(back == a.addr, f"A's address is {back}, A is at {a.addr}")
            return "the reply goes to the new source; the address follows A back"
        finally:
            net.remove(m)

    checks.run("an authenticated frame from a new address moves the peer there (roaming)", roaming)

    def reply_kinds_unanswered() -> str:
        net.settle(WAIT)
        start = len(a.received)
        seq = 0x0FF0FF00
        sent = [
            p.KeepaliveAck(seq, 25, a.addr).encode(),
            p.Error(seq + 1, 1, "x").encode(),
            p.Registered(a.id, 25, a.addr).encode(),
            p.Intro(b.id, b.key.public, b.addr).encode(),
            bytes([0x80]),
            bytes([0xFF]) + (seq + 2).to_bytes(4, "big"),
        ]
        for payload in sent:
            a.send_to_server(payload, f"kind 0x{payload[0]:02x}")
        keepalive_barrier(net, a)
        got = unexplained(a, start)
        expect(not got, f"a kind of 0x80 or above was answered: {got}")
        return f"{len(sent)} frames of kinds " + ", ".join(f"0x{s[0]:02x}" for s in sent)

    checks.run("kinds 0x80-0xFF sent to the server get no answer", reply_kinds_unanswered)

    def one_answer(make: Callable[[int], bytes]) -> tuple:
        """Sends the payload `make(seq)` once; (seq, every reply that came before a barrier)."""
        req = a.request(make, retransmit=False)
        errors = len(a.errors)
        keepalive_barrier(net, a)
        req.failed = req.reply is None  # nothing more will come for it
        got = [req.reply] * req.replies + a.errors[errors:]
        return req.seq, got

    def error_cases(cases: list) -> str:
        """Each case: (what, payload maker, code, whether the seq is echoed). All are
        sent; every one that gets another answer is named in the failure."""
        wrong = []
        for what, make, code, echoed in cases:
            seq, got = one_answer(make)
            want = (code, seq if echoed else 0)
            if [(e.name, e.seq) if isinstance(e, p.Error) else e for e in got] != [want]:
                shown = [f"{e.name} seq {e.seq}" if isinstance(e, p.Error) else repr(e) for e in got]
                wrong.append(f"{what}: {shown or 'nothing'}, not {code} seq {want[1]}")
        expect(not wrong, "; ".join(wrong))
        return f"{len(cases)} payloads"

    def seq_and(n: int, kind: int) -> Callable[[int], bytes]:
        """A payload of `kind`, its bytes 1 .. 5 the request's seq, then `n` zero bytes."""
        return lambda seq: bytes([kind]) + seq.to_bytes(4, "big") + bytes(n)

    # Sections 5.2 and 5.3 step 4: a kind below 0x80 the server does not
    # serve gets unknown_type, whatever its length, with bytes 1 .. 5 of the
    # payload as seq (0 when the payload is shorter than 5 bytes).
    peer_kinds = ((p.K_MESSAGE, "MESSAGE", 16), (p.K_MESSAGE_ACK, "MESSAGE_ACK", 8),
                  (p.K_PROBE, "PROBE", 8), (p.K_PROBE_ACK, "PROBE_ACK", 8))
    other_kinds = ((0x15, "kind 0x15", 12), (0x7F, "kind 0x7f", 12), (0x00, "kind 0x00", 12))

    def unserved_kinds() -> str:
        cases = [(f"{what} of {1 + fields} bytes", seq_and(fields - 4, kind), "unknown_type", True)
                 for kind, what, fields in peer_kinds + other_kinds]
        cases += [(f"{what} of 5 bytes", seq_and(0, kind), "unknown_type", True) for kind, what, _ in other_kinds]
        cases.append(("kind 0x7f alone", lambda seq: b"\x7f", "unknown_type", False))
        cases.append(("kind 0x7f of 4 bytes", lambda seq: bytes([0x7F, 1, 2, 3]), "unknown_type", False))
        return error_cases(cases)

    checks.run("kinds the server does not serve get unknown_type, its seq bytes 1 .. 5 of the payload or 0",
               unserved_kinds)

    def short_peer_kinds() -> str:
        cases = [(f"{what} of 5 bytes", seq_and(0, kind), "unknown_type", True) for kind, what, _ in peer_kinds]
        cases.append(("PROBE of 4 bytes", lambda seq: bytes([p.K_PROBE, 1, 2, 3]), "unknown_type", False))
        return error_cases(cases)

    checks.run("a peer-to-peer kind shorter than its own fields gets unknown_type too, not bad_request",
               short_peer_kinds)

    def short_fields() -> str:
        # Section 5.3 step 4: fields too short: bad_request, its seq likewise.
        return error_cases([
            ("CONNECT with 4 bytes of target", seq_and(4, p.K_CONNECT), "bad_request", True),
            ("LIST without after", seq_and(0, p.K_LIST), "bad_request", True),
            ("RELAY without data", seq_and(8, p.K_RELAY), "bad_request", True),
            ("KEEPALIVE with 3 bytes of seq", lambda seq: bytes([p.K_KEEPALIVE, 1, 2, 3]), "bad_request", False),
        ])

    checks.run("a served kind with fields too short gets bad_request, its seq bytes 1 .. 5 or 0", short_fields)

    def server_replay_window() -> str:
        # Section 4: W is 128 for frames between a daemon and the server: a
        # counter 127 below the highest accepted passes, 128 below is dropped.
        net.settle(WAIT)
        session = a.server_sessions[0]
        top = session.send_counter + 500

        def keepalive_at(counter: int):
            session.send_counter = counter
            return a.request(lambda seq: p.Keepalive(seq), retransmit=False)

        req = keepalive_at(top)
        net.wait(lambda: req.done, WAIT, f"the reply to a KEEPALIVE with counter {top}")
        inside = keepalive_at(top - 127)
        net.wait(lambda: inside.done, WAIT, "the reply to a KEEPALIVE 127 below the highest counter")
        expect(isinstance(inside.reply, p.KeepaliveAck), f"127 below: {inside.reply}")
        start = len(a.received)
        outside = keepalive_at(top - 128)
        session.send_counter = top + 1
        keepalive_barrier(net, a)
        outside.failed = outside.reply is None
        got = unexplained(a, start, hostile_seqs=(outside.seq,))
        expect(outside.reply is None and not got, f"a frame 128 below the highest counter was answered: {got}")
        return f"counters {top - 127} answered, {top - 128} dropped after {top}"

    checks.run("the server's replay window is 128 frames", server_replay_window)

    def v1_json() -> str:
        # At most 10 answers per second per source (section 7): each case has its own socket.
        def case(datagram: bytes) -> list:
            v1 = node("V")
            net.add(v1)
            try:
                v1.send_raw(datagram, server, "v1 datagram")
                v1_barrier(net, v1, 4243)
                return [r.data for r in v1.received if r.data != p.v1_answer(4243)]
            finally:
                net.remove(v1)

        request = v1_request(4242)
        got = case(request)
        expect(got == [p.v1_answer(4242)], f"answers to one v1 datagram with seq 4242: {got}")
        expect(len(got[0]) <= len(request), "the answer is longer than the datagram")
        pad = b"x" * 120
        cases = [
            (b'{"v":1,"type":"REGISTER","token":"' + pad + b'"}', 0),
            (b'{"v":1,"type":"REGISTER","seq":"7","token":"' + pad + b'"}', 0),
            (b'{"v":1,"seq":4294967296,"token":"' + pad + b'"}', 0),
            (b'{"v":1,"seq":4294967295,"token":"' + pad + b'"}', 4294967295),
            (b'{"v":1,"seq":42.0,"token":"' + pad + b'"}', 0),
            (b'{"v":1,"seq":42e0,"token":"' + pad + b'"}', 0),
            (b'{"v":1,"seq":1,"token":"' + pad + b'","seq":4246}', 4246),
            (b'{"v":1,"seq":4246,"token":"' + pad + b'","seq":"x"}', 0),
            (b'{"v":1,"seq":4247,"token":"' + pad + b'"}x', 0),
            (b'{"v":1,"x":{"seq":4248},"token":"' + pad + b'"}', 0),
            (b"{" + pad, 0),
            # Nesting depth at most 127, the outer object counting 1.
            (b'{"v":1,"seq":4250,"x":' + b"[" * 126 + b"]" * 126 + b"}", 4250),
            (b'{"v":1,"seq":4251,"x":' + b"[" * 127 + b"]" * 127 + b"}", 0),
            # A lone surrogate anywhere makes the datagram invalid; a pair does not.
            (b'{"v":1,"seq":4252,"x":"\\ud83d\\ude00","token":"' + pad + b'"}', 4252),
            (b'{"v":1,"seq":4253,"x":"\\ud800","token":"' + pad + b'"}', 0),
            # Every number finite as a double.
            (b'{"v":1,"seq":4254,"x":1e308,"token":"' + pad + b'"}', 4254),
            (b'{"v":1,"seq":4255,"x":1e309,"token":"' + pad + b'"}', 0),
        ]
        for datagram, seq in cases:
            got = case(datagram)
            expect(got == [p.v1_answer(seq)], f"{datagram[:40]!r}...: answered {got}, not seq {seq}")
        short = b'{"v":1,"type":"REGISTER","seq":4245}'
        got = case(short)
        expect(not got, f"a {len(short)}-byte v1 datagram was answered: {got}")
        return (f"exact bytes, {len(p.v1_answer(4242))} for {len(request)}; seq 0 when not a u32, "
                "nested deeper than 127, with a lone surrogate or a number beyond a double")

    checks.run("a v1 JSON datagram gets exactly the unsupported_version answer of section 7", v1_json)

    def paging() -> str:
        extra = []
        try:
            for i in range(list_peers):
                bind = (f"127.0.0.{2 + i % PAGING_IPS}", 0) if on_loopback(server) else ("0.0.0.0", 0)
                try:
                    n = node(f"P{i}", bind=bind)
                except OSError:
                    n = node(f"P{i}")
                net.add(n)
                extra.append(n)
                net.register(n, WAIT)
            entries, pages = list_all(net, a)
            ids = [i for i, _ in entries]
            expect(len(ids) == len(set(ids)), "an id listed twice")
            missing = {n.id for n in extra + [b]} - set(ids)
            expect(not missing, f"LIST lacks {sorted(missing)}")
            listed = dict(entries)
            wrong = [n.name for n in extra if listed[n.id] != n.addr]
            expect(not wrong, f"listed at other addresses: {wrong}")
            expect(list_peers < 80 or pages >= 2, f"{len(ids)} peers in {pages} page")
            for n in extra:
                reply = net.call(n, lambda seq: p.Unregister(seq), WAIT)
                expect(isinstance(reply, p.UnregisterAck), f"UNREGISTER answered {reply}")
            return f"{len(ids)} peers in {pages} pages"
        finally:
            for n in extra:
                net.remove(n)

    if list_peers:
        checks.run(f"LIST pages through {list_peers} more peers (after, more)", paging)

    def unregister() -> str:
        req = a.request(lambda seq: p.Unregister(seq))
        net.wait(lambda: req.done, WAIT, "UNREGISTER_ACK")
        expect(isinstance(req.reply, p.UnregisterAck) and req.reply.seq == req.seq, f"UNREGISTER answered {req.reply}")
        replies = req.replies
        a.retransmit(req)
        net.wait(lambda: req.replies > replies, WAIT, "UNREGISTER_ACK again for a retransmission")
        entries, _ = list_all(net, b)
        expect(a.id not in dict(entries), "A still listed after UNREGISTER")
        error_of(net.call(b, lambda seq: p.Connect(seq, a.id), WAIT), "peer_offline")
        error_of(net.call(a, lambda seq: p.List(seq, 0), WAIT), "unauthorized")
        # `unauthorized` is not remembered: the same CONNECT again, once A is back, is judged again.
        connect = a.request(lambda seq: p.Connect(seq, b.id), retransmit=False)
        net.wait(lambda: connect.done, WAIT, "an answer to CONNECT while unregistered")
        error_of(connect.reply, "unauthorized")
        reply = net.call(a, lambda seq: p.Keepalive(seq), WAIT)
        expect(isinstance(reply, p.KeepaliveAck), f"KEEPALIVE after UNREGISTER: {reply}")
        entries, _ = list_all(net, b)
        expect(a.id in dict(entries), "KEEPALIVE did not bring A back online")
        a.retransmit(connect)
        net.wait(lambda: connect.replies >= 2, WAIT, "an answer to the CONNECT retransmitted")
        last = next(r for r in reversed(a.received) if r.reply_seq == connect.seq)
        expect("ConnectAck" in last.note, f"the CONNECT retransmitted once A is online got {last.note}")
        for n in (a, b):
            reply = net.call(n, lambda seq: p.Unregister(seq), WAIT)
            expect(isinstance(reply, p.UnregisterAck), f"UNREGISTER answered {reply}")
        return "acknowledged twice; peer_offline; unauthorized, not remembered; KEEPALIVE brings it back"

    checks.run("UNREGISTER takes a peer offline at once", unregister)

    print(f"load: {net.load_report()}", flush=True)
    net.close()
    return checks


def cookie_scenario(server: tuple, server_key: bytes, verbose: bool, known: list) -> Checks:
    """For a server started with --cookie-threshold 1."""
    checks = Checks(known)
    log = (lambda line: print(f"    {line}", flush=True)) if verbose else None
    nodes = [Node(f"C{i}", server, server_key, log=log, auto_keepalive=False) for i in range(4)]
    net = Net(nodes)

    def under_load() -> str:
        attempts = [n.register() for n in nodes]  # all at once: more than one INIT in the same second
        net.wait(lambda: all(t.done for t in attempts), WAIT, "every registration")
        for n, t in zip(nodes, attempts):
            expect(t.error is None and n.id is not None, f"{n.name}: not registered ({t.error})")
        net.settle(WAIT)
        cookies = sum(n.cookie_replies for n in nodes)
        expect(cookies >= 1, "no COOKIE_REPLY with the server under load")
        for n in nodes:
            for r in n.received:
                if r.data[:1] == bytes([p.COOKIE_REPLY]):
                    expect(len(r.data) == p.COOKIE_REPLY_LEN, f"COOKIE_REPLY of {len(r.data)} bytes")
        ids = {n.id for n in nodes}
        expect(len(ids) == len(nodes), f"ids {ids}")
        return f"{cookies} COOKIE_REPLY, every peer registered with mac2"

    checks.run("registrations under load go through COOKIE_REPLY and mac2", under_load, True)

    def bad_mac2() -> None:
        # Under load, an INIT with a good mac1 and a wrong mac2 gets a COOKIE_REPLY.
        n = nodes[0]
        index = 0x7E57AB1E
        pending = p.start_handshake(n.key, server_key, index, p.Register(n._timestamp()), cookie=bytes(16))
        for _ in range(3):  # more than 1 INIT in a second: the server is under load
            n.send_raw(pending.frame, server, "INIT with a wrong mac2")

        def cookies() -> list:
            return [r.data for r in n.received
                    if r.data[:1] == bytes([p.COOKIE_REPLY]) and u32(r.data, 1) == index]

        net.wait(cookies, WAIT, "a COOKIE_REPLY to an INIT with a wrong mac2")
        reply = p.CookieReply.decode(cookies()[0])
        reply.open(server_key, pending.mac1)

    checks.run("under load a wrong mac2 gets a COOKIE_REPLY that decrypts", bad_mac2)

    def cookie_of_another_source() -> str:
        # A cookie is MAC(secret, ip ‖ port) of the source it was sent to: from
        # another source, mac2 made with it is wrong.
        owner = next(n for n in nodes if n.cookie is not None)
        other = Node("D", server, server_key, log=log, auto_keepalive=False)
        net.add(other)
        try:
            index = 0x0D0D0D00
            sent = []
            for i in range(3):  # more than 1 INIT in a second: the server is under load
                pending = p.start_handshake(other.key, server_key, index + i, p.Register(other._timestamp()),
                                            cookie=owner.cookie[0])
                other.send_raw(pending.frame, server, "INIT with another source's cookie")
                sent.append(pending)
            net.wait(lambda: any(r.answers_init == index + 2 for r in other.received), WAIT,
                     "an answer to the third INIT")
            last = next(r.data for r in other.received if r.answers_init == index + 2)
            expect(last[:1] == bytes([p.COOKIE_REPLY]),
                   f"the third INIT, with a cookie of {owner.name}'s source, got {p.frame_kind(last)}")
            cookie = p.CookieReply.decode(last).open(server_key, sent[2].mac1)
            expect(cookie != owner.cookie[0], "the same cookie for two sources")
            return "COOKIE_REPLY with a cookie of its own"
        finally:
            net.remove(other)

    checks.run("under load a cookie from another source does not make mac2 right", cookie_of_another_source)
    print(f"load: {net.load_report()}", flush=True)
    net.close()
    return checks


def parse_addr(text: str) -> tuple:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", default=os.environ.get("PEERD_SERVER"), help="HOST:PORT (or PEERD_SERVER)")
    ap.add_argument("--server-key", default=os.environ.get("PEERD_SERVER_KEY"),
                    help="the server's public key, base64 (or PEERD_SERVER_KEY)")
    ap.add_argument("--server-fingerprint", help="the fingerprint the server printed, checked against section 1.1")
    ap.add_argument("--cookies", action="store_true", help="the cookie scenario (server with --cookie-threshold 1)")
    ap.add_argument("--list-peers", type=int, default=80, help="extra peers for the LIST paging check (0: none)")
    ap.add_argument("--known-failure", action="append", default=[], metavar="TEXT",
                    help="a check whose name contains TEXT is known to fail (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print what the peers do")
    args = ap.parse_args(argv)
    if not args.server or not args.server_key:
        ap.error("give --server and --server-key (or PEERD_SERVER and PEERD_SERVER_KEY)")
    server = parse_addr(args.server)
    server_key = p.key_from_text(args.server_key)
    print(f"peerd server {args.server}, key {args.server_key} ({p.fingerprint(server_key)})", flush=True)
    if args.cookies:
        checks = cookie_scenario(server, server_key, args.verbose, args.known_failure)
    else:
        checks = scenario(server, server_key, args.server_fingerprint, args.list_peers, args.verbose,
                          args.known_failure)
    print(checks.summary(), flush=True)
    return 0 if checks.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
