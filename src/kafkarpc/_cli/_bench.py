"""``kafkarpc bench``: run the benchmark suite of a kafkarpc clone.

The benchmark (raw confluent-kafka and hand-rolled aiokafka baselines next to
kafkarpc) lives in the repository's ``benchmarks/`` folder, not in the wheel,
so this command runs it from the current directory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from ._common import CliError, Subcommands, add_command

__all__ = ["register"]

_HELP = "run the benchmark from a repository clone (options: kafkarpc bench --help)"


def register(commands: Subcommands) -> None:
    # add_help=False: --help belongs to the benchmark's own parser.
    parser = add_command(commands, "bench", _cmd_bench, help=_HELP, add_help=False)
    parser.add_argument("args", nargs=argparse.REMAINDER)


def _cmd_bench(args: argparse.Namespace) -> int:
    return run(list(args.args))


def run(argv: list[str]) -> int:
    """Run ``python -m benchmarks.run`` with ``argv`` from the current directory's clone.

    In a fresh interpreter, not this one: the benchmark spawns its client and
    responder processes, and a spawned child re-imports its parent's main module.
    From this command that is kafkarpc's CLI, which would load kafkarpc (and its
    ~15 MB of imports) into the raw and hand-rolled baselines' processes too and
    make kafkarpc's memory overhead look smaller than it is.
    """
    if not os.path.isfile(os.path.join("benchmarks", "run.py")):
        raise CliError(
            "the benchmark lives in the benchmarks/ folder of a kafkarpc clone; "
            "run `kafkarpc bench` from the repository root"
        )
    return subprocess.call([sys.executable, "-m", "benchmarks.run", *argv])
