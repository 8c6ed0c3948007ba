"""A Python script run as a process of its own, for a test to signal or kill.

The responder scripts next to the tests (``responder_process.py`` and others)
print lines such as ``ready`` or ``handling 7`` as they go; tests wait for those
lines (a handshake, never a sleep) and then kill, stop or resume the process.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio

__all__ = ["script_process", "wait_for_lines"]


@contextlib.contextmanager
def script_process(
    script: Path, *args: str, log: Path | None = None
) -> Iterator[subprocess.Popen[str]]:
    """``python script args...`` with its stdout readable (its stderr to ``log`` when
    given); killed and reaped on the way out if it is still running."""
    stderr = None if log is None else log.open("w")
    process = subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if stderr is not None:
            stderr.close()


async def wait_for_lines(
    process: subprocess.Popen[str], *expected: str, timeout: float = 60
) -> None:
    """Read the process's output until it printed every one of ``expected``."""
    assert process.stdout is not None
    stdout, missing = process.stdout, set(expected)

    def read_until() -> None:
        for line in stdout:
            missing.discard(line.strip())
            if not missing:
                return
        raise AssertionError(f"the process exited before printing {sorted(missing)}")

    with anyio.fail_after(timeout):
        await anyio.to_thread.run_sync(read_until, abandon_on_cancel=True)
