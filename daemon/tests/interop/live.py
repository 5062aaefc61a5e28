"""Live interop of protocol v2 against a running `peerd server`.

    python3 live.py --server 127.0.0.1:8080 --server-key BASE64 [--cookies] [-v]

(or PEERD_SERVER and PEERD_SERVER_KEY in the environment). Two Python peers
built from docs/protocol.md alone register, list, connect, handshake with
each other directly and through the relay, exchange messages, and the server
is sent hostile datagrams. Each check prints one line; the exit status is 0
only if every check passed.

"No answer" is checked with a barrier on the same path, never a sleep
(see the comment on barriers below).

`--cookies` runs the scenario for a server started with
`--cookie-threshold 1`: registrations under load go through COOKIE_REPLY.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peerd_v2 as p  # noqa: E402
from peerd_v2_node import Net, Node, u32  # noqa: E402

WAIT = 10.0  # seconds any single step may take


class Checks:
    """Runs named checks in order; a failed prerequisite skips the rest."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.skipping: Optional[str] = None

    def run(self, name: str, fn: Callable[[], Optional[str]], prerequisite: bool = False) -> None:
        if self.skipping is not None:
            print(f"skip - {name} (after: {self.skipping})", flush=True)
            self.failed += 1
            return
        try:
            note = fn()
        except Exception as err:  # noqa: BLE001 - any failure of a check is reported as one
            self.failed += 1
            print(f"FAIL - {name}: {err}", flush=True)
            if os.environ.get("PEERD_INTEROP_TRACE"):
                traceback.print_exc()
            if prerequisite:
                self.skipping = name
            return
        self.passed += 1
        print(f"ok   - {name}" + (f" ({note})" if note else ""), flush=True)


def expect(cond: bool, message: str) -> None:
    if not cond:
        raise AssertionError(message)


# ----------------------------------------------------------------- barriers
#
# "No answer" is checked with a barrier on the same path, never with a sleep:
# after the datagram that must go unanswered, the same socket sends a request
# of the same class (a handshake after a handshake, a TRANSPORT request after
# a TRANSPORT frame, a v1 datagram after a v1 datagram) whose answer can be
# told apart, and waits for that answer. What the server sent in answer to
# the earlier datagram has arrived by then, for a server that handles one
# source's datagrams of one class in order. Every datagram received in
# between, other than the barrier's own answer, is a failure.


def unexpected(records: list) -> list:
    return [f"{p.frame_kind(r.data)} ({r.note or 'unread'})" for r in records]


def keepalive_barrier(net: Net, node: Node, start: int) -> list:
    """What `node` received since `start`, other than the answer to a new KEEPALIVE."""
    reply = net.call(node, lambda seq: p.Keepalive(seq))
    expect(isinstance(reply, p.KeepaliveAck), f"{node.name}: KEEPALIVE answered {reply}")
    mine = f"KeepaliveAck seq={reply.seq}"
    return unexpected([r for r in node.received[start:] if r.note != mine])


def handshake_barrier(net: Net, node: Node, start: int) -> list:
    """What `node` received since `start`, other than the answers to a new REGISTER handshake."""
    first = len(node.init_indices)
    net.register(node)
    ours = set(node.init_indices[first:])

    def answers_ours(data: bytes) -> bool:
        if data[:1] == bytes([p.HANDSHAKE_RESP]) and len(data) >= 9:
            return u32(data, 5) in ours
        if data[:1] == bytes([p.COOKIE_REPLY]) and len(data) >= 5:
            return u32(data, 1) in ours
        return False

    return unexpected([r for r in node.received[start:] if not answers_ours(r.data)])


def v1_answers(node: Node, seq: int) -> list:
    out = []
    for r in node.received:
        if r.data[:1] == b"{":
            try:
                body = json.loads(r.data)
            except ValueError:
                continue
            if isinstance(body, dict) and body.get("seq") == seq:
                out.append(r)
    return out


def v1_request(seq: int, padding: int = 200) -> bytes:
    return json.dumps({"v": 1, "type": "REGISTER", "seq": seq, "token": "x" * padding}).encode()


def v1_barrier(net: Net, node: Node, start: int, seq: int, expected: tuple = ()) -> list:
    """What `node` received since `start`, other than the answers to v1 datagrams with `seq`
    and `expected` (one answer each)."""
    node.send_raw(v1_request(seq), node.server, "v1 barrier")
    net.wait(lambda: v1_answers(node, seq), WAIT, f"the unsupported_version answer to v1 seq {seq}")
    allowed = [v1_answers(node, s)[0] for s in (seq, *expected) if v1_answers(node, s)]
    return unexpected([r for r in node.received[start:] if not any(r is x for x in allowed)])


# ----------------------------------------------------------------- helpers


def list_all(net: Net, node: Node) -> tuple[list, int]:
    """Every entry of LIST, page by page; checks the paging rules on the way."""
    after, entries, pages = 0, [], 0
    while True:
        reply = net.call(node, lambda seq, a=after: p.List(seq, a))
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


def error_of(reply: p.Payload, name: str) -> None:
    expect(isinstance(reply, p.Error), f"expected ERROR {name}, got {reply}")
    expect(reply.name == name, f"expected ERROR {name}, got {reply.name} ({reply.message!r})")


def multibyte_text(size: int = 1000) -> str:
    unit = "\u00e9\u2713\U0001f600a"  # 2 + 3 + 4 + 1 bytes of UTF-8
    text = unit * (size // 10)
    assert len(text.encode("utf-8")) == size
    return text


# ---------------------------------------------------------------- scenario


def scenario(server: tuple, server_key: bytes, list_peers: int, verbose: bool) -> Checks:
    checks = Checks()
    log = (lambda line: print(f"    {line}", flush=True)) if verbose else None
    a = Node("A", server, server_key, log=log, auto_keepalive=False)
    b = Node("B", server, server_key, log=log, auto_keepalive=False)
    raw = Node("R", server, server_key, log=log, auto_keepalive=False)  # hostile datagrams come from here
    net = Net([a, b, raw])
    state: dict = {}

    def key_reply() -> str:
        start = len(raw.received)
        raw.send_raw(p.key_request(64), server, "KEY_REQUEST")
        net.wait(lambda: raw.key_replies, WAIT, "KEY_REPLY")
        replies = [r.data for r in raw.received[start:] if r.data[:1] == bytes([p.KEY_REPLY])]
        expect(len(replies[0]) == 34, f"KEY_REPLY of {len(replies[0])} bytes")
        expect(p.decode_key_reply(replies[0]) == server_key, "KEY_REPLY carries another key than the server's")
        return f"fingerprint {p.fingerprint(server_key)}"

    checks.run("a 64-byte KEY_REQUEST gets a 34-byte KEY_REPLY with the server's key", key_reply, True)

    def key_request_short() -> None:
        start = len(raw.received)
        raw.send_raw(p.key_request(63), server, "short KEY_REQUEST")
        got = handshake_barrier(net, raw, start)
        expect(not got, f"a 63-byte KEY_REQUEST was answered: {got}")

    checks.run("a 63-byte KEY_REQUEST gets nothing", key_request_short)

    def register() -> str:
        for node in (a, b):
            net.register(node)
            expect(node.public_addr == node.addr, f"{node.name}: REGISTERED addr {node.public_addr}, socket {node.addr}")
            expect(node.keepalive and node.keepalive > 0, f"{node.name}: keepalive {node.keepalive}")
        expect(a.id != b.id, f"both peers got id {a.id}")
        state["a_init"] = next(d for what, d, _ in a.sent if what == "REGISTER INIT")
        return f"A is {a.id}, B is {b.id}, keepalive {a.keepalive} s"

    checks.run("two peers register (REGISTER handshake, REGISTERED)", register, True)

    def reregister() -> str:
        first = a.id
        net.register(a)
        expect(a.id == first, f"the same key got id {a.id}, then {first}")
        return "new session, same id"

    checks.run("a new REGISTER handshake with the same key keeps the id", reregister, True)

    def keepalive() -> None:
        reply = net.call(a, lambda seq: p.Keepalive(seq))
        expect(isinstance(reply, p.KeepaliveAck), f"KEEPALIVE answered {reply}")
        expect(reply.addr == a.addr, f"KEEPALIVE_ACK addr {reply.addr}, socket {a.addr}")
        state["keepalive_req"] = a.requests[reply.seq]

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
        error_of(net.call(a, lambda seq: p.Connect(seq, a.id)), "bad_request")
        error_of(net.call(a, lambda seq: p.Connect(seq, max(a.id, b.id) + 1_000_000)), "unknown_peer")
        error_of(net.call(a, lambda seq: p.Relay(seq, max(a.id, b.id) + 1_000_000, b"\xa4")), "unknown_peer")

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
        state["connect_req"] = req
        return f"B at {ack.addr[0]}:{ack.addr[1]}"

    checks.run("CONNECT gives the other's key and address; INTRO arrives at the target", connect, True)

    def connect_retransmission() -> None:
        req = state["connect_req"]
        intros, start = len(b.intros), len(b.received)
        a.retransmit(req)
        net.wait(lambda: req.replies >= 2, WAIT, "the second CONNECT_ACK")
        expect(req.frames[0] != req.frames[-1], "a retransmission is a new TRANSPORT frame")
        got = keepalive_barrier(net, b, start)
        expect(len(b.intros) == intros, f"a retransmitted CONNECT made a second INTRO: {got}")
        expect(req.replies == req.tries, f"{req.replies} replies to {req.tries} copies")

    checks.run("a retransmitted CONNECT (same seq) gets the reply again and no second INTRO", connect_retransmission)

    def hello_direct() -> str:
        pending = a.hello(b.id, "direct")
        net.wait(lambda: pending.init.sender in a.sessions, WAIT, "HELLO_ACK from B")
        sa, sb = a.session_with(b.id), b.session_with(a.id)
        expect(sb is not None and sb.remote_index == sa.local_index, "B has no matching session")
        expect(a.peers[b.id].direct_addr == b.addr and b.peers[a.id].direct_addr == a.addr, "direct paths")
        return f"indices {sa.local_index:#010x} / {sb.local_index:#010x}"

    checks.run("HELLO handshake between the two peers directly on loopback", hello_direct, True)

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

    def hello_relayed() -> str:
        old = a.session_with(b.id)
        relayed = len(b.relayed)
        pending = a.hello(b.id, "relay")
        net.wait(lambda: pending.init.sender in a.sessions, WAIT, "HELLO_ACK from B through the relay")
        expect(a.session_with(b.id) is not old, "no new session")
        expect(len(b.relayed) > relayed, "the INIT did not come RELAYED")
        return f"new session {a.session_with(b.id).local_index:#010x}"

    checks.run("a HELLO handshake through RELAY/RELAYED", hello_relayed, True)

    checks.run(
        "MESSAGE/MESSAGE_ACK and PROBE/PROBE_ACK both ways through RELAY/RELAYED",
        lambda: exchange("relay", "hello B, relayed", "hello A, relayed"),
    )

    def long_text() -> str:
        text = multibyte_text(1000)
        exchange("relay", text, text[::-1])
        frame = next(req.frames[-1] for req in reversed(list(a.requests.values())) if req.payload[0] == p.K_RELAY)
        state["relay_frame"] = frame
        return f"{len(text)} characters, 1000 bytes of UTF-8"

    checks.run("a 1000-byte text with multibyte characters, relayed both ways", long_text)

    def replayed_transport() -> None:
        req = state["keepalive_req"]
        replies, start = req.replies, len(a.received)
        a.send_raw(req.frames[-1], server, "replayed KEEPALIVE")
        got = keepalive_barrier(net, a, start)
        expect(not got, f"a replayed TRANSPORT was answered: {got}")
        expect(req.replies == replies, "a replayed KEEPALIVE got a KEEPALIVE_ACK")

    checks.run("a replayed TRANSPORT frame gets no answer", replayed_transport)

    def replayed_relay() -> None:
        relayed, start = len(b.relayed), len(a.received)
        a.send_raw(state["relay_frame"], server, "replayed RELAY")
        got = keepalive_barrier(net, a, start)
        expect(not got, f"a replayed RELAY was answered: {got}")
        # Barrier at B: a new relayed PROBE; a second RELAYED of the old frame would come first.
        nonce = a.probe(b.id, "relay")
        net.wait(lambda: nonce in a.probe_acks, WAIT, "PROBE_ACK through the relay")
        expect(len(b.relayed) == relayed + 1, f"B got {len(b.relayed) - relayed} RELAYED for one new RELAY")

    checks.run("a replayed RELAY frame is not forwarded again", replayed_relay)

    def replayed_init_same_source() -> str:
        first = a.id
        keepalive_barrier(net, a, len(a.received))  # nothing in flight
        start = len(a.received)
        a.send_raw(state["a_init"], server, "replayed INIT")
        got = keepalive_barrier(net, a, start)  # the session still works
        got += handshake_barrier(net, a, len(a.received))
        expect(not got, f"a replayed HANDSHAKE_INIT was answered: {got}")
        expect(a.id == first, f"A's id changed from {first} to {a.id}")
        return "the session still works; a new handshake still gets the same id"

    checks.run("a replayed HANDSHAKE_INIT gets no answer; the session still works", replayed_init_same_source)

    def where_is_a() -> tuple:
        reply = net.call(b, lambda seq: p.Connect(seq, a.id))
        expect(isinstance(reply, p.ConnectAck), f"CONNECT answered {reply}")
        return reply.addr

    def replay_from_elsewhere() -> None:
        mallory = Node("M", server, server_key, log=log, auto_keepalive=False)
        net.add(mallory)
        try:
            start = len(mallory.received)
            mallory.send_raw(state["a_init"], server, "A's INIT replayed")
            got = handshake_barrier(net, mallory, start)
            expect(not got, f"a replayed INIT from another address was answered: {got}")
            start = len(mallory.received)
            mallory.send_raw(state["keepalive_req"].frames[-1], server, "A's KEEPALIVE replayed")
            got = keepalive_barrier(net, mallory, start)
            expect(not got, f"a replayed TRANSPORT from another address was answered: {got}")
            addr = where_is_a()
            expect(addr == a.addr, f"A's address moved to {addr} (A is at {a.addr})")
        finally:
            net.remove(mallory)

    checks.run("replays from another address change nothing (A's address stays)", replay_from_elsewhere)

    def v1_json() -> str:
        start = len(raw.received)
        request = v1_request(4242)
        raw.send_raw(request, server, "v1 REGISTER")
        net.wait(lambda: v1_answers(raw, 4242), WAIT, "an unsupported_version answer to a v1 datagram it fits in")
        got = v1_barrier(net, raw, start, 4243, expected=(4242,))
        answers = v1_answers(raw, 4242)
        expect(len(answers) == 1 and not got, f"{len(answers)} answers to one v1 datagram; also {got}")
        answer = answers[0].data
        expect(len(answer) <= len(request), f"an answer of {len(answer)} bytes to {len(request)}")
        body = json.loads(answer)
        want = {"v": 1, "type": "ERROR", "seq": 4242, "code": "unsupported_version"}
        expect({k: body.get(k) for k in want} == want, f"answer {body}")
        short = b'{"v":1,"type":"REGISTER","seq":4244}'
        start = len(raw.received)
        raw.send_raw(short, server, "short v1 REGISTER")
        got = v1_barrier(net, raw, start, 4245)
        expect(not got, f"a {len(short)}-byte v1 datagram was answered: {got}")
        return f"{len(answer)} bytes for {len(request)}: {body.get('message')!r}"

    checks.run("a v1 JSON datagram gets at most one unsupported_version ERROR, no longer than it", v1_json)

    def paging() -> str:
        extra = []
        try:
            for i in range(list_peers):
                node = Node(f"P{i}", server, server_key, log=log, auto_keepalive=False)
                net.add(node)
                extra.append(node)
                net.register(node)
            entries, pages = list_all(net, a)
            ids = [i for i, _ in entries]
            expect(len(ids) == len(set(ids)), "an id listed twice")
            missing = {n.id for n in extra + [b]} - set(ids)
            expect(not missing, f"LIST lacks {sorted(missing)}")
            expect(list_peers < 80 or pages >= 2, f"{len(ids)} peers in {pages} page")
            for node in extra:
                reply = net.call(node, lambda seq: p.Unregister(seq))
                expect(isinstance(reply, p.UnregisterAck), f"UNREGISTER answered {reply}")
            return f"{len(ids)} peers in {pages} pages"
        finally:
            for node in extra:
                net.remove(node)

    if list_peers:
        checks.run(f"LIST pages through {list_peers} more peers (after, more)", paging)

    def unregister() -> str:
        req = a.request(lambda seq: p.Unregister(seq))
        net.wait(lambda: req.done, WAIT, "UNREGISTER_ACK")
        expect(isinstance(req.reply, p.UnregisterAck) and req.reply.seq == req.seq, f"UNREGISTER answered {req.reply}")
        a.retransmit(req)
        net.wait(lambda: req.replies >= 2, WAIT, "UNREGISTER_ACK again for a retransmission")
        entries, _ = list_all(net, b)
        expect(a.id not in dict(entries), "A still listed after UNREGISTER")
        error_of(net.call(b, lambda seq: p.Connect(seq, a.id)), "peer_offline")
        error_of(net.call(a, lambda seq: p.List(seq, 0)), "unauthorized")
        reply = net.call(a, lambda seq: p.Keepalive(seq))
        expect(isinstance(reply, p.KeepaliveAck), f"KEEPALIVE after UNREGISTER: {reply}")
        entries, _ = list_all(net, b)
        expect(a.id in dict(entries), "KEEPALIVE did not bring A back online")
        for node in (a, b):
            reply = net.call(node, lambda seq: p.Unregister(seq))
            expect(isinstance(reply, p.UnregisterAck), f"UNREGISTER answered {reply}")
        return "acknowledged twice; peer_offline; unauthorized; KEEPALIVE brings it back"

    checks.run("UNREGISTER takes a peer offline at once", unregister)

    net.close()
    return checks


def cookie_scenario(server: tuple, server_key: bytes, verbose: bool) -> Checks:
    """For a server started with --cookie-threshold 1."""
    checks = Checks()
    log = (lambda line: print(f"    {line}", flush=True)) if verbose else None
    nodes = [Node(f"C{i}", server, server_key, log=log, auto_keepalive=False) for i in range(4)]
    net = Net(nodes)

    def under_load() -> str:
        for node in nodes:  # all at once: more than one INIT in the same second
            node.register()
        net.wait(lambda: all(n.registered for n in nodes), WAIT, "every registration")
        for node in nodes:
            expect(node.id is not None, f"{node.name}: not registered ({node.register_error or 'no answer'})")
        cookies = sum(n.cookie_replies for n in nodes)
        expect(cookies >= 1, "no COOKIE_REPLY with the server under load")
        for node in nodes:
            for r in node.received:
                if r.data[:1] == bytes([p.COOKIE_REPLY]):
                    expect(len(r.data) == p.COOKIE_REPLY_LEN, f"COOKIE_REPLY of {len(r.data)} bytes")
        ids = {n.id for n in nodes}
        expect(len(ids) == len(nodes), f"ids {ids}")
        return f"{cookies} COOKIE_REPLY, every peer registered with mac2"

    checks.run("registrations under load go through COOKIE_REPLY and mac2", under_load, True)

    def bad_mac2() -> None:
        # Under load, an INIT with a good mac1 and a wrong mac2 gets a COOKIE_REPLY.
        node = nodes[0]
        index = 0x7E57AB1E
        pending = p.start_handshake(node.key, server_key, index, p.Register(p.now_ns()), cookie=bytes(16))
        for _ in range(3):  # more than 1 INIT in a second: the server is under load
            node.send_raw(pending.frame, server, "INIT with a wrong mac2")

        def cookies() -> list:
            return [r.data for r in node.received
                    if r.data[:1] == bytes([p.COOKIE_REPLY]) and u32(r.data, 1) == index]

        net.wait(cookies, WAIT, "a COOKIE_REPLY to an INIT with a wrong mac2")
        reply = p.CookieReply.decode(cookies()[0])
        reply.open(server_key, pending.mac1)

    checks.run("under load a wrong mac2 gets a COOKIE_REPLY that decrypts", bad_mac2)
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
    ap.add_argument("--cookies", action="store_true", help="the cookie scenario (server with --cookie-threshold 1)")
    ap.add_argument("--list-peers", type=int, default=80, help="extra peers for the LIST paging check (0: none)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print what the peers do")
    args = ap.parse_args(argv)
    if not args.server or not args.server_key:
        ap.error("give --server and --server-key (or PEERD_SERVER and PEERD_SERVER_KEY)")
    server = parse_addr(args.server)
    server_key = p.key_from_text(args.server_key)
    print(f"peerd server {args.server}, key {args.server_key} ({p.fingerprint(server_key)})", flush=True)
    if args.cookies:
        checks = cookie_scenario(server, server_key, args.verbose)
    else:
        checks = scenario(server, server_key, args.list_peers, args.verbose)
    print(f"live: {checks.passed} passed, {checks.failed} failed", flush=True)
    return 0 if checks.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
