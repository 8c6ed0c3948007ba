"""Instructions per request of ``benchmarks.hotpath``, counted by callgrind.

``python -m benchmarks.instructions`` (from the root of a clone; needs valgrind) runs
``benchmarks.hotpath`` under ``valgrind --tool=callgrind`` twice per side, with
``--requests`` N and 2N, and reports (instructions of the second run - the first) / N:
start-up and warm-up cancel out, and the count repeats to within 0.5% whatever else
the machine is doing, which wall-clock time does not. ``PYTHONHASHSEED`` is fixed
because set and dict layouts otherwise move the responder's count by up to 4k.
It writes ``benchmarks/results/instructions.json``; a count worth keeping goes into
``instructions`` of ``benchmarks/results/history.json``, which docs/benchmarks.md is
rendered from (``python -m benchmarks.docs``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]

SIDES = ("client", "responder")


def count_instructions(side: str, requests: int, workdir: Path) -> int:
    """Instructions callgrind counted for one whole ``benchmarks.hotpath`` run."""
    out = workdir / f"callgrind-{side}-{requests}.out"
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "benchmarks.hotpath",
        "--side",
        side,
        "--requests",
        str(requests),
        "--reps",
        "1",
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(command, check=True, capture_output=True, env=env)
    for line in out.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"callgrind wrote no totals to {out}")


def per_request(side: str, requests: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        small = count_instructions(side, requests, Path(tmp))
        large = count_instructions(side, 2 * requests, Path(tmp))
    return (large - small) // requests


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="N (the runs use N and 2N)")
    parser.add_argument("--side", choices=SIDES, action="append", help="default: both")
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/instructions.json"), help="JSON file"
    )
    args = parser.parse_args(argv)
    sides = args.side or list(SIDES)
    result = {side: per_request(side, args.requests) for side in sides}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"requests": args.requests, **result}, indent=2) + "\n")
    for side, count in result.items():
        print(f"{side}: {count:,} instructions per request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
