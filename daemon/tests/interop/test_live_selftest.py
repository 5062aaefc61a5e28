"""Runs live.py against spec_server.py: proves the scenario and the Python peers work.

spec_server.py is a minimal server written from docs/protocol.md (not peerd),
so a failure of live.py against the real `peerd server` points at the server
or at the document, not at the scenario. Run:
`python3 daemon/tests/interop/test_live_selftest.py`.
"""

from __future__ import annotations

import subprocess
import sys
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEADLINE = 180.0  # seconds for one scenario (a deadline: a run takes 1 to 60 s)


class SpecServerProcess:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "spec_server.py"), *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()  # blocks until the server has bound its socket
        parts = line.split()
        if len(parts) != 5 or parts[:2] != ["listening", "on"]:
            self.stop()
            raise RuntimeError(f"spec_server.py said {line!r}")
        self.addr, self.key = parts[2], parts[4]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


def run_live(server: SpecServerProcess, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(HERE / "live.py"), "--server", server.addr, "--server-key", server.key, *args],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )


class LiveScenarioSelfTest(unittest.TestCase):
    def check(self, server_args: list, live_args: list, passed_at_least: int) -> None:
        server = SpecServerProcess(*server_args)
        try:
            started = time.monotonic()
            done = run_live(server, *live_args)
        finally:
            server.stop()
        report = done.stdout + done.stderr
        self.assertEqual(done.returncode, 0, f"live.py failed against spec_server.py:\n{report}")
        self.assertNotIn("FAIL", done.stdout, report)
        last = done.stdout.strip().splitlines()[-1]
        self.assertTrue(last.startswith("live: ") and last.endswith(" passed, 0 failed"), report)
        self.assertGreaterEqual(int(last.split()[1]), passed_at_least, report)
        print(f"\n{report}({time.monotonic() - started:.1f} s)", file=sys.stderr)

    def test_scenario(self) -> None:
        self.check([], [], 28)

    def test_cookie_scenario(self) -> None:
        self.check(["--cookie-threshold", "1"], ["--cookies"], 3)


if __name__ == "__main__":
    sys.exit(0 if unittest.main(exit=False, verbosity=2).result.wasSuccessful() else 1)
