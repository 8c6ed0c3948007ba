"""Resident memory of the current process, in MB, without third-party packages."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["current_rss_mb", "peak_rss_mb"]

_STATUS = Path("/proc/self/status")


def _status_kb(field: str) -> float | None:
    try:
        text = _STATUS.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1])
    return None


def current_rss_mb() -> float | None:
    kb = _status_kb("VmRSS")
    return None if kb is None else kb / 1024.0


def peak_rss_mb() -> float | None:
    """High-water mark since the process started (VmHWM), so it can be read after closing.

    Linux folds each thread's cached RSS counters into VmHWM only now and then, so
    VmHWM can read a little below VmRSS read at the same moment (measured: 36.2 vs
    36.3 MB); the larger of the two is the honest peak.
    """
    kb = _status_kb("VmHWM")
    if kb is not None:
        return max(kb, _status_kb("VmRSS") or 0.0) / 1024.0
    try:
        import resource
    except ImportError:  # Windows
        return None
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in KiB on Linux but in bytes on macOS.
    return maxrss / (1024.0 * 1024.0) if sys.platform == "darwin" else maxrss / 1024.0
