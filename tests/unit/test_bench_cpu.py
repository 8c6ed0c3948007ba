"""The benchmark's CPU reading: another process's CPU time, from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from benchmarks.cpu import cpu_seconds

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")


def test_reads_the_cpu_a_busy_child_spends() -> None:
    # The child burns 0.3 s of CPU only once told to, after the first reading.
    busy = subprocess.Popen(
        [sys.executable, "-c", "import time\ninput()\nend = time.process_time() + 0.3\n"
         "while time.process_time() < end: pass\ninput()"],
        stdin=subprocess.PIPE,
    )  # fmt: skip
    assert busy.stdin is not None
    try:
        start = cpu_seconds(busy.pid)
        assert start is not None
        busy.stdin.write(b"go\n")
        busy.stdin.flush()
        deadline = time.monotonic() + 20
        spent = 0.0
        while spent < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
            now = cpu_seconds(busy.pid)
            assert now is not None
            spent = now - start
        assert spent >= 0.25  # the busy loop's 0.3 s, give or take clock ticks
    finally:
        busy.communicate(b"done\n", timeout=20)


def test_unknown_or_gone_processes_read_as_none() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert cpu_seconds(gone.pid) is None
    assert cpu_seconds(None) is None
