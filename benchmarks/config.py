"""Command-line options -> a validated, immutable BenchConfig."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.curves.registry import CURVE_NAMES
from benchmarks.systems import SYSTEMS

__all__ = ["DEFAULT_OUT", "BenchConfig", "parse_args"]

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
DEFAULT_LOADS = (1, 16, 256, 1024)


@dataclass(frozen=True, slots=True)
class BenchConfig:
    bootstrap: str | None
    loads: tuple[int, ...]
    requests: int | None
    """None: max(2000, 32 x load). At 256 in flight the raw loop finishes 2,000
    requests in a fifth of a second, too short a window to compare systems by; 32
    rounds of the window take a few seconds at every load."""
    warmup: int | None
    """None: two full windows of in-flight requests, at least 50."""
    systems: tuple[str, ...]
    systems_explicit: bool
    """The user named the systems, so an unavailable one is an error, not a skip."""
    out_dir: Path
    seed: int
    payload_bytes: int
    partitions: int
    timeout_s: float
    level_timeout_s: float
    plot: bool
    kafkarpc_config: dict[str, str]
    """librdkafka overrides for the kafkarpc client and responder."""
    rounds: int
    """Interleaved rounds at ``rounds_load``: throughput there is judged by their median."""
    rounds_load: int
    curves: tuple[str, ...]
    """Which curves to run after the levels (benchmarks/curves/)."""
    quick: bool
    """Tiny curve sizes: checks that every curve runs, measures nothing worth quoting."""

    def rounds_at(self, load: int) -> int:
        return self.rounds if load == self.rounds_load else 1

    def requests_for(self, load: int) -> int:
        return self.requests if self.requests is not None else max(2000, 32 * load)

    def warmup_for(self, load: int) -> int:
        # Two full windows: connections, metadata and the broker's caches settle.
        return self.warmup if self.warmup is not None else max(50, 2 * load)


def _positive_ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _system_names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [n for n in names if n not in SYSTEMS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"unknown system(s) {unknown or text!r}; choose from {', '.join(SYSTEMS)}"
        )
    return names


def _curve_names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [n for n in names if n not in CURVE_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown curve(s) {unknown}; choose from {', '.join(CURVE_NAMES)}"
        )
    return names


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Compare kafkarpc with raw confluent-kafka and a hand-rolled aiokafka client.",
    )
    parser.add_argument("--bootstrap", help="broker to use (default: start an embedded Tansu)")
    parser.add_argument(
        "--loads",
        type=_positive_ints,
        default=DEFAULT_LOADS,
        help="requests in flight, comma-separated (default: 1,16,256,1024)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=None,
        help="measured requests per system and load (default: max(2000, 32 x load))",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="unmeasured requests before measuring (default: max(50, 2 x load))",
    )
    parser.add_argument(
        "--systems",
        type=_system_names,
        default=None,
        help=f"comma-separated subset of {','.join(SYSTEMS)} (default: every available one)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="directory for the JSON and PNG (default: benchmarks/results/)",
    )
    parser.add_argument("--seed", type=int, default=1, help="payload and ordering seed")
    parser.add_argument("--payload-bytes", type=int, default=256, help="request payload size")
    parser.add_argument("--partitions", type=int, default=4, help="partitions per topic")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, s")
    parser.add_argument(
        "--level-timeout",
        type=float,
        default=180.0,
        help="cap on the measuring time of one system at one load, s",
    )
    parser.add_argument(
        "--kafkarpc-config",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="librdkafka property for kafkarpc's client and responder (repeatable)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds at --rounds-load; its throughput is their median (default: 3)",
    )
    parser.add_argument(
        "--rounds-load", type=int, default=256, help="the load measured in rounds (default: 256)"
    )
    parser.add_argument(
        "--curves",
        type=_curve_names,
        default=CURVE_NAMES,
        help=f"comma-separated curves to run, '' for none (default: {','.join(CURVE_NAMES)})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny curve sizes: a check that they run, not a measure",
    )
    parser.add_argument("--no-plot", action="store_true", help="skip the PNGs")
    return parser


def parse_args(argv: Sequence[str] | None) -> BenchConfig:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.requests is not None and args.requests <= 0:
        parser.error("--requests must be positive")
    if args.warmup is not None and args.warmup < 0:
        parser.error("--warmup must not be negative")
    if args.payload_bytes < 0 or args.partitions <= 0:
        parser.error("--payload-bytes must be >= 0 and --partitions > 0")
    if args.rounds <= 0 or args.rounds_load <= 0:
        parser.error("--rounds and --rounds-load must be positive")
    if args.timeout <= 0 or args.level_timeout <= 0:
        parser.error("timeouts must be positive")
    return BenchConfig(
        bootstrap=args.bootstrap,
        loads=args.loads,
        requests=args.requests,
        warmup=args.warmup,
        systems=args.systems or tuple(SYSTEMS),
        systems_explicit=args.systems is not None,
        out_dir=args.out,
        seed=args.seed,
        payload_bytes=args.payload_bytes,
        partitions=args.partitions,
        timeout_s=args.timeout,
        level_timeout_s=args.level_timeout,
        plot=not args.no_plot,
        kafkarpc_config=dict(args.kafkarpc_config),
        rounds=args.rounds,
        rounds_load=args.rounds_load,
        curves=args.curves,
        quick=args.quick,
    )
