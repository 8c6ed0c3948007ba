"""Turning one level's raw samples into the numbers that are reported."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks.protocol import ClientReport, ResponderReport

__all__ = ["CpuPerRequest", "LevelResult", "failed_level", "percentile", "summarize"]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), ``q`` in [0, 100]."""
    if not sorted_values:
        raise ValueError("percentile of an empty sequence")
    rank = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class CpuPerRequest:
    """Microseconds of CPU per request answered, each process with all its threads."""

    client_us: float | None
    responder_us: float | None
    broker_us: float | None
    """None when the broker is not ours to read (``--bootstrap``) or not on Linux."""


_NO_CPU = CpuPerRequest(None, None, None)


@dataclass(frozen=True, slots=True)
class LevelResult:
    system: str
    load: int
    requests: int
    ok: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    max_ms: float | None
    throughput_rps: float | None
    client_rss_mb: float | None
    """Peak resident memory of the client process."""
    client_base_rss_mb: float | None
    """Resident memory after imports, before connecting."""
    responder_rss_mb: float | None
    """Peak resident memory of the responder process."""
    responder_handled: int | None
    """Requests the responder answered, warm-up and tail included: a sanity check."""
    wall_s: float
    cpu: CpuPerRequest = _NO_CPU
    """From the client's start to its result, divided by ``responder_handled``."""
    first_error: str | None = None
    failure: str | None = None
    """Why the level produced no numbers (a crashed or hung process)."""
    round: int = 1
    """Which of the interleaved rounds at this load (only ``--rounds-load`` has several)."""
    responder_ready_s: float | None = None
    """From the responder process's start to ready: imports, connecting, group join."""
    responder_ready_rss_mb: float | None = None
    """Resident memory of the responder once serving, before any load."""

    def to_json(self) -> dict[str, Any]:
        rounded: dict[str, Any] = _rounded(asdict(self))
        return rounded


def _rounded(value: Any) -> Any:
    # Microsecond resolution is all a millisecond-scale measurement carries.
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def summarize(
    system: str,
    load: int,
    requests: int,
    client: ClientReport,
    responder: ResponderReport,
    cpu: CpuPerRequest,
    wall_s: float,
) -> LevelResult:
    samples = client.samples
    latencies = sorted(samples.latencies_ms)
    has = bool(latencies)
    throughput = samples.completed_in_window / samples.window_s if samples.window_s > 0 else None
    first_error = samples.first_error
    if samples.deadline_hit:
        first_error = first_error or "level deadline reached before every request finished"
    return LevelResult(
        system=system,
        load=load,
        requests=requests,
        ok=len(latencies),
        # Failed, timed out, or never answered before the level deadline.
        errors=requests - len(latencies),
        p50_ms=percentile(latencies, 50) if has else None,
        p95_ms=percentile(latencies, 95) if has else None,
        p99_ms=percentile(latencies, 99) if has else None,
        mean_ms=sum(latencies) / len(latencies) if has else None,
        max_ms=latencies[-1] if has else None,
        throughput_rps=throughput,
        client_rss_mb=client.rss_peak_mb,
        client_base_rss_mb=client.rss_base_mb,
        responder_rss_mb=responder.rss_peak_mb,
        responder_handled=responder.handled,
        wall_s=wall_s,
        cpu=cpu,
        first_error=first_error,
        responder_ready_s=responder.ready_s,
        responder_ready_rss_mb=responder.ready_rss_mb,
    )


def failed_level(system: str, load: int, requests: int, wall_s: float, why: str) -> LevelResult:
    return LevelResult(
        system=system,
        load=load,
        requests=requests,
        ok=0,
        errors=requests,
        p50_ms=None,
        p95_ms=None,
        p99_ms=None,
        mean_ms=None,
        max_ms=None,
        throughput_rps=None,
        client_rss_mb=None,
        client_base_rss_mb=None,
        responder_rss_mb=None,
        responder_handled=None,
        wall_s=wall_s,
        failure=why,
    )
