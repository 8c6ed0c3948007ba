"""The terminal tables, the kafkarpc-vs-baseline ratios, and the JSON file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.curves.base import Target
from benchmarks.stats import LevelResult
from benchmarks.targets import median_at

__all__ = ["SUBJECT", "format_cpu", "format_ratios", "format_table", "ratios", "write_json"]

SUBJECT = "kafkarpc"
_BASELINES = ("raw", "handrolled")
# For latency and memory lower is better; a ratio above 1 means the subject is slower/bigger.
_RATIO_METRICS = (
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "throughput_rps",
    "client_rss_mb",
    "responder_rss_mb",
)


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _label(r: LevelResult) -> str:
    return r.system if r.round == 1 else f"{r.system} #{r.round}"


def format_table(results: Sequence[LevelResult]) -> str:
    header = (
        f"{'system':<14} {'load':>5} {'ok':>6} {'err':>5} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'req/s':>9} {'client MB':>10} {'resp. MB':>9}"
    )
    lines = [header, "-" * len(header)]
    for r in sorted(results, key=lambda r: (r.load, r.system, r.round)):
        lines.append(
            f"{_label(r):<14} {r.load:>5} {r.ok:>6} {r.errors:>5} {_num(r.p50_ms, 2):>8} "
            f"{_num(r.p95_ms, 2):>8} {_num(r.p99_ms, 2):>8} {_num(r.throughput_rps):>9} "
            f"{_num(r.client_rss_mb):>10} {_num(r.responder_rss_mb):>9}"
        )
    problems = [r for r in results if r.failure or r.first_error]
    for r in problems:
        reason = (r.failure or r.first_error or "").strip().splitlines()
        lines.append(f"! {r.system} load={r.load}: {reason[-1] if reason else ''}")
    return "\n".join(lines)


def format_cpu(results: Sequence[LevelResult]) -> str:
    """CPU per request answered, per process: what decides throughput once the
    processes share too few cores (the broker's only when the harness started it)."""
    header = (
        f"{'cpu µs/request':<15} {'load':>5} {'client':>8} {'responder':>10} "
        f"{'broker':>8} {'total':>8}"
    )
    lines = [header, "-" * len(header)]
    for r in sorted(results, key=lambda r: (r.load, r.system, r.round)):
        parts = (r.cpu.client_us, r.cpu.responder_us, r.cpu.broker_us)
        total = None if any(p is None for p in parts) else sum(p for p in parts if p is not None)
        lines.append(
            f"{_label(r):<15} {r.load:>5} {_num(parts[0], 0):>8} {_num(parts[1], 0):>10} "
            f"{_num(parts[2], 0):>8} {_num(total, 0):>8}"
        )
    return "\n".join(lines)


def ratios(results: Sequence[LevelResult]) -> list[dict[str, Any]]:
    """``kafkarpc / baseline`` per load, baseline and metric; absent when either side is.

    A load measured in several rounds compares the medians of the rounds.
    """
    present = {(r.system, r.load) for r in results}
    rows: list[dict[str, Any]] = []
    for load in sorted({r.load for r in results}):
        if (SUBJECT, load) not in present:
            continue
        for baseline_name in _BASELINES:
            if (baseline_name, load) not in present:
                continue
            row: dict[str, Any] = {"load": load, "baseline": baseline_name}
            for metric in _RATIO_METRICS:

                def value(r: LevelResult, metric: str = metric) -> float | None:
                    found: float | None = getattr(r, metric)
                    return found

                mine = median_at(results, SUBJECT, load, value)
                theirs = median_at(results, baseline_name, load, value)
                row[metric] = mine / theirs if mine is not None and theirs else None
            rows.append(row)
    return rows


def format_ratios(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return f"(no {SUBJECT} ratios: run {SUBJECT} together with a baseline)"
    header = (
        f"{SUBJECT + ' / baseline':<22} {'load':>5} {'p50':>6} {'p95':>6} {'p99':>6} "
        f"{'req/s':>6} {'client MB':>10} {'resp. MB':>9}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        cells = [_num(row[m], 2) for m in _RATIO_METRICS]
        lines.append(
            f"{SUBJECT + ' / ' + row['baseline']:<22} {row['load']:>5} {cells[0]:>6} "
            f"{cells[1]:>6} {cells[2]:>6} {cells[3]:>6} {cells[4]:>10} {cells[5]:>9}"
        )
    return "\n".join(lines)


def write_json(
    path: Path,
    meta: dict[str, Any],
    results: Sequence[LevelResult],
    ratio_rows: Sequence[dict[str, Any]],
    conversations: dict[str, Any] | None = None,
    curves: dict[str, dict[str, Any]] | None = None,
    targets: Sequence[Target] = (),
    library_cpu: dict[str, Any] | None = None,
) -> None:
    document: dict[str, Any] = {
        "meta": meta,
        "results": [r.to_json() for r in results],
        "ratios": list(ratio_rows),
    }
    if conversations is not None:
        # benchmarks/conversations.py: a stream and a gather next to the single call.
        document["conversations"] = conversations
    # benchmarks/curves/: each curve's own record, and every target met or not.
    document["curves"] = dict(curves or {})
    document["targets"] = [t.to_json() for t in targets]
    if library_cpu is not None:
        # benchmarks/hotpath.py: the library's own Python, the floor under the CPU targets.
        document["library_cpu"] = library_cpu
    path.write_text(json.dumps(document, indent=2) + "\n")
