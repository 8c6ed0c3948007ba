"""``main(argv)``: parse options, run the session, print and write the results."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from benchmarks.config import BenchConfig, parse_args
from benchmarks.conversations import (
    ConversationSizes,
    format_conversations,
    measure_conversations,
)
from benchmarks.curves.base import CurveContext
from benchmarks.curves.runner import curve_targets, format_curves, run_curves
from benchmarks.kafka import TopicAdmin
from benchmarks.plot import write_curve_plots, write_plot
from benchmarks.report import format_cpu, format_ratios, format_table, ratios, write_json
from benchmarks.session import SetupError, broker, run_session
from benchmarks.systems import SYSTEMS, unavailable_reason
from benchmarks.targets import format_targets, judge_levels

__all__ = ["main"]


def _runnable_systems(config: BenchConfig) -> tuple[list[str], list[str]]:
    """(systems to run, notes about skipped ones); a named but missing one is a SetupError."""
    runnable: list[str] = []
    notes: list[str] = []
    for name in config.systems:
        reason = unavailable_reason(SYSTEMS[name])
        if reason is None:
            runnable.append(name)
        elif config.systems_explicit:
            raise SetupError(f"system {name!r} cannot run: {reason}")
        else:
            notes.append(f"skipping {name}: {reason}")
    return runnable, notes


def _commit() -> str | None:
    """The clone's commit, marked ``-dirty`` with uncommitted changes; None outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def _meta(
    config: BenchConfig, systems: Sequence[str], bootstrap: str, started: datetime
) -> dict[str, Any]:
    return {
        "started_at": started.isoformat(),
        "broker": "embedded tansu" if config.bootstrap is None else bootstrap,
        "systems": list(systems),
        "commit": _commit(),
        "loads": list(config.loads),
        "rounds": config.rounds,
        "rounds_load": config.rounds_load,
        "curves": list(config.curves),
        "quick": config.quick,
        "requests": {str(load): config.requests_for(load) for load in config.loads},
        "warmup": {str(load): config.warmup_for(load) for load in config.loads},
        "seed": config.seed,
        "payload_bytes": config.payload_bytes,
        "partitions": config.partitions,
        "request_timeout_s": config.timeout_s,
        "kafkarpc_config": config.kafkarpc_config,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def _library_cpu(config: BenchConfig) -> dict[str, Any]:
    """kafkarpc's own CPU per request without a broker: the floor under the CPU targets."""
    from benchmarks import hotpath

    requests, reps = (1_000, 1) if config.quick else (10_000, 3)
    print("measuring kafkarpc's own CPU per request without a broker", file=sys.stderr)
    found = {r.side: r.best_us for r in hotpath.measure(requests, 256, reps)}
    return {
        "client_us": round(found["client"], 1),
        "responder_us": round(found["responder"], 1),
        "requests": requests,
        "rounds": reps,
        "load": 256,
        "how": "best of the rounds, process CPU per request against a loopback transport",
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark.

    Returns 0 when every level answered every request, 1 when some level had
    errors or failed (the numbers are still printed and written), 2 when the
    benchmark could not start. Bad options exit through argparse as usual.
    """
    config = parse_args(argv)
    try:
        systems, notes = _runnable_systems(config)
        for note in notes:
            print(note, file=sys.stderr)
        if not systems:
            raise SetupError("no system can run here")
        config.out_dir.mkdir(parents=True, exist_ok=True)
        started = datetime.now(UTC)
        clock = time.monotonic()
        conversations: dict[str, Any] | None = None
        with broker(config.bootstrap) as broker_info:
            results = run_session(config, systems, broker_info)
            if "kafkarpc" in systems:
                # Streaming and scatter-gather next to the single call (one process).
                sizes = ConversationSizes(calls=min(200, config.requests or 200))
                conversations = measure_conversations(broker_info.bootstrap, sizes)
            context = CurveContext(
                broker_info, TopicAdmin(broker_info.bootstrap), config.seed, config.quick
            )
            curves = run_curves(config.curves, context)
        library_cpu = _library_cpu(config) if "kafkarpc" in systems else None
    except SetupError as exc:
        print(f"benchmark not run: {exc}", file=sys.stderr)
        return 2
    ratio_rows = ratios(results)
    print()
    print(format_table(results))
    print()
    print(format_ratios(ratio_rows))
    print()
    print(format_cpu(results))
    if conversations is not None:
        print()
        print(format_conversations(conversations))
    if curves:
        print()
        print(format_curves(curves))
    if library_cpu is not None:
        print()
        print(
            f"kafkarpc's own CPU per request, no broker (benchmarks/hotpath.py): "
            f"client {library_cpu['client_us']:.1f} us, "
            f"responder {library_cpu['responder_us']:.1f} us"
        )
    targets = judge_levels(results, config.rounds_load, library_cpu) + curve_targets(curves)
    print()
    print(format_targets(targets))

    stem = config.out_dir / f"bench-{started.strftime('%Y%m%dT%H%M%SZ')}"
    meta = _meta(config, systems, broker_info.bootstrap, started) | {
        "duration_s": round(time.monotonic() - clock, 1)
    }
    json_path = stem.with_suffix(".json")
    write_json(json_path, meta, results, ratio_rows, conversations, curves, targets, library_cpu)
    print(f"\nresults: {json_path}")
    if config.plot:
        png_path = stem.with_suffix(".png")
        skipped = write_plot(png_path, results, f"kafkarpc benchmark ({meta['broker']})")
        print(skipped or f"plot:    {png_path}", file=sys.stderr if skipped else sys.stdout)
        written = write_curve_plots(stem, curves)
        if isinstance(written, list):
            for path in written:
                print(f"plot:    {path}")
    failed_curve = any("failure" in data for data in curves.values())
    return 1 if failed_curve or any(r.failure or r.errors for r in results) else 0
