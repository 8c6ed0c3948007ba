"""CPU time of another process by pid, from /proc (Linux), without third-party packages.

The harness reads it for the client, the responder and the embedded broker at the
start and end of a level: on a machine where the three share the cores, CPU per
request summed over them is what decides throughput under load.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cpu_seconds", "precise_cpu_seconds"]

_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int | None) -> float | None:
    """User plus system CPU of every thread of ``pid`` so far; None when unreadable."""
    if pid is None:
        return None
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # not Linux, or the process is gone
        return None
    # Field 2, the command name, may contain spaces and parentheses; the fields
    # after its closing parenthesis start with field 3, so utime (14) is the 12th.
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


def precise_cpu_seconds(pid: int | None) -> float | None:
    """CPU of every live thread of ``pid``, in nanoseconds' precision: the sum of
    /proc/PID/task/*/schedstat. A client spends a few hundred µs per call, and the
    10 ms ticks of /proc/PID/stat (benchmarks.cpu) would blur a 1-client level by ~10%.
    Falls back to ``cpu_seconds`` where schedstat cannot be read."""
    if pid is None:
        return None
    total_ns = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            total_ns += int((task / "schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return cpu_seconds(pid)
    return total_ns / 1e9
