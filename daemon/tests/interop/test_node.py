"""The Python peer's timers and session rules on a fake clock (no server).

Run: `python3 daemon/tests/interop/test_node.py`. The node's clock
(`peerd_v2_node.time`) is replaced by a fake one; datagrams go to a UDP
socket on 127.0.0.1 standing in for the server, which answers only when a
test builds an answer with the server's key. What is checked is that the
peer `live.py` drives follows docs/protocol.md: the REGISTER rounds of
section 9, the 15 s attempt of section 3, the server's address for its
HANDSHAKE_RESP (section 3.3), relayed and punched HELLO retries (section
9), and the sessions kept (section 4).
"""

from __future__ import annotations

import socket
import sys
import time as real_time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peerd_v2 as p  # noqa: E402
import peerd_v2_node as node_module  # noqa: E402
from peerd_v2_node import Node, SessionSet  # noqa: E402


class FakeClock:
    """Stands in for the `time` module inside peerd_v2_node."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def time_ns(self) -> int:
        return real_time.time_ns()


class NodeTest(unittest.TestCase):
    def setUp(self) -> None:
        self.clock = FakeClock()
        self.real = node_module.time
        node_module.time = self.clock
        self.server_key = p.StaticKey.generate()
        self.server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.server.bind(("127.0.0.1", 0))
        self.server_addr = self.server.getsockname()
        self.node = Node("T", self.server_addr, self.server_key.public, auto_keepalive=False)

    def tearDown(self) -> None:
        node_module.time = self.real
        self.node.close()
        self.server.close()

    def run_until(self, end: float) -> None:
        """Advances the fake clock from wake-up to wake-up, running the node's timers."""
        while True:
            wake = self.node.next_wake()
            if wake > end:
                self.clock.now = end
                self.node.tick()
                return
            self.clock.now = max(self.clock.now, wake)
            self.node.tick()

    def sent_times(self, what: str, end: float) -> list:
        """The fake times at which the node sent datagrams of kind `what`, up to `end`."""
        times = []
        while True:
            count = sum(1 for w, _, _ in self.node.sent if w == what)
            wake = self.node.next_wake()
            if wake > end:
                return times
            self.clock.now = max(self.clock.now, wake)
            self.node.tick()
            times += [self.clock.now] * (sum(1 for w, _, _ in self.node.sent if w == what) - count)

    def answer(self, init: bytes, payload: p.Payload) -> bytes:
        accepted = p.read_init(self.server_key, init, {p.K_REGISTER})
        resp, _ = p.answer_init(accepted, 0x5E55, payload, p.WINDOW_SERVER, self.clock.now)
        return resp

    def inits(self) -> list:
        return [d for w, d, _ in self.node.sent if w == "REGISTER INIT"]

    def registered(self) -> p.Registered:
        return p.Registered(7, 25, self.node.addr)

    # ---------------------------------------------------------------- section 9

    def test_register_rounds(self) -> None:
        """5 INITs 250, 500, 1000, 2000 ms apart; unanswered 4 s after the 5th; the
        next round 0.5 s later, the gap doubling up to 5 s."""
        start = self.clock.now
        self.node.register()
        times = [start] + self.sent_times("REGISTER INIT", start + 90.0)
        want, round_start, gap = [], 0.0, 0.5
        while round_start <= 90.0:
            want += [round_start + t for t in (0.0, 0.25, 0.75, 1.75, 3.75) if round_start + t <= 90.0]
            round_start += 3.75 + 4.0 + gap
            gap = min(gap * 2, 5.0)
        self.assertEqual([round(t - start, 6) for t in times], [round(t, 6) for t in want])

    def test_answer_to_any_init_of_the_last_15_s(self) -> None:
        """Section 3: the first answer to any INIT of the last 15 s is taken; the
        other INITs are then forgotten and their answers dropped."""
        start = self.clock.now
        self.node.register()
        self.run_until(start + 14.0)  # the first round and part of the second
        first, *rest = self.inits()
        self.assertGreaterEqual(len(rest), 5)
        self.node.inject(self.answer(first, self.registered()), self.server_addr)
        self.assertTrue(self.node.registered, "an answer to an INIT sent 14 s ago is taken")
        self.assertEqual(self.node.attempt.answered_by, p.u32be(first, 1))
        self.assertEqual(self.node.pending, {}, "every other INIT is forgotten")
        self.node.inject(self.answer(rest[-1], self.registered()), self.server_addr)
        self.assertEqual(len(self.node.server_sessions), 1, "a later answer makes no session")
        self.assertEqual(self.node.late_answers, 1)

    def test_answer_after_15_s_dropped(self) -> None:
        start = self.clock.now
        self.node.register()
        self.run_until(start + 15.5)
        first = self.inits()[0]
        self.node.inject(self.answer(first, self.registered()), self.server_addr)
        self.assertFalse(self.node.registered, "an answer to an INIT sent 15.5 s ago is dropped")
        self.assertTrue(self.node.received[-1].note.startswith("dropped"))

    def test_server_resp_only_from_the_server_address(self) -> None:
        """Section 3.3: the answer to an INIT sent to the server comes from its address."""
        self.node.register()
        resp = self.answer(self.inits()[0], self.registered())
        elsewhere = (self.server_addr[0], self.server_addr[1] + 1 if self.server_addr[1] < 65535 else 1)
        self.node.inject(resp, elsewhere)
        self.assertFalse(self.node.registered)
        self.assertIn("from elsewhere", self.node.received[-1].note)
        self.node.inject(resp, self.server_addr)
        self.assertTrue(self.node.registered)

    def test_confirming_keepalive_at_once(self) -> None:
        self.node.register()
        self.node.inject(self.answer(self.inits()[0], self.registered()), self.server_addr)
        self.assertEqual(self.node.sent[-1][0], "Keepalive", "the initiator sends on the new session at once")

    def hello_times(self, path: str, end: float) -> list:
        self.node.register()
        self.node.inject(self.answer(self.inits()[0], self.registered()), self.server_addr)
        peer = self.node.peer(9)
        peer.key, peer.addr = p.StaticKey.generate().public, ("127.0.0.1", 9)
        start = self.clock.now
        attempt = self.node.hello(9, path)
        times = [start]
        while self.clock.now <= start + end:
            count = len(attempt.indices)
            wake = self.node.next_wake()
            if wake > start + end:
                break
            self.clock.now = max(self.clock.now, wake)
            self.node.tick()
            times += [self.clock.now] * (len(attempt.indices) - count)
        return [round(t - start, 6) for t in times]

    def test_punched_hello_every_200_ms_for_3_s(self) -> None:
        self.assertEqual(self.hello_times("direct", 6.0), [round(0.2 * i, 6) for i in range(15)])

    def test_relayed_hello_once_a_second(self) -> None:
        self.assertEqual(self.hello_times("relay", 5.5), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])

    # ---------------------------------------------------------------- section 4

    def session(self, confirmed: bool) -> p.Session:
        return p.Session(len(self.made), 0, bytes(32), bytes(32), p.WINDOW_DAEMON, self.clock.now, bytes(32),
                         confirmed=confirmed)

    def test_sessions_kept(self) -> None:
        """Four newest confirmed sessions, newest = confirmed last; unconfirmed
        ones apart, each for 15 s."""
        self.made = []
        kept = SessionSet()
        confirmed = []
        for _ in range(5):
            s = self.session(True)
            self.made.append(s)
            dropped = kept.add(s)
            confirmed.insert(0, s)
        self.assertEqual(dropped, [confirmed[-1]], "the fifth confirmed session drops the oldest")
        self.assertEqual(kept.confirmed, confirmed[:4])
        waiting = [self.session(False) for _ in range(6)]
        self.made += waiting
        for s in waiting:
            self.assertEqual(kept.add(s), [], "unconfirmed sessions are kept apart")
        self.assertIs(kept.newest(), confirmed[0], "sent on: the newest confirmed")
        waiting[2].confirmed = True  # its first frame arrived
        dropped = kept.confirm(waiting[2])
        self.assertIs(kept.newest(), waiting[2], "the newest is the one confirmed last")
        self.assertEqual(dropped, [confirmed[3]])
        self.clock.now += 15.5
        fresh = self.session(False)
        kept.add(fresh)
        gone = kept.expire(self.clock.now)
        self.assertEqual(len(gone), 5, "unconfirmed sessions are kept for 15 s")
        self.assertEqual(kept.unconfirmed, [fresh])
        self.assertEqual(len(kept.confirmed), 4)


if __name__ == "__main__":
    sys.exit(0 if unittest.main(exit=False, verbosity=2).result.wasSuccessful() else 1)
