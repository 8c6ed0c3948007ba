"""``kafkarpc bench``: run the benchmark suite of a kafkarpc clone.

The benchmark (raw confluent-kafka and hand-rolled aiokafka baselines next to
kafkarpc) lives in the repository's ``benchmarks/`` folder, not in the wheel,
so this command runs it from the current directory.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ._common import CliError, Subcommands

__all__ = ["register"]


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "bench",
        help="run the benchmark from a repository clone (options: kafkarpc bench --help)",
        add_help=False,  # --help belongs to the benchmark's own parser
    )
    parser.add_argument("args", nargs=argparse.REMAINDER)
    parser.set_defaults(handler=_cmd_bench)


def _cmd_bench(args: argparse.Namespace) -> int:
    return run(list(args.args))


def run(argv: list[str]) -> int:
    """Run ``benchmarks.run.main(argv)`` from the current directory's clone."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        benchmark = importlib.import_module("benchmarks.run")
    except ImportError as exc:
        raise CliError(
            "the benchmark lives in the benchmarks/ folder of a kafkarpc clone; "
            f"run `kafkarpc bench` from the repository root ({exc})"
        ) from exc
    return int(benchmark.main(argv))
