"""How long ``import kafkarpc`` takes, next to importing only its runtime dependencies.

``python -m benchmarks.importtime`` (from the root of a clone) starts a fresh
interpreter per measurement, so nothing is cached in ``sys.modules``; it times the
import statement alone (not the interpreter's own start-up), takes the best of
``--runs`` (noise only ever adds time), and writes
``benchmarks/results/importtime.json``. The ratio is what docs/benchmarks.md
("Import time") reports: every ``kafkarpc call`` pays the import first.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]

# What kafkarpc imports at run time (pyproject.toml's dependencies).
DEPENDENCIES = (
    "confluent_kafka",
    "pydantic",
    "anyio",
    "tenacity",
    "opentelemetry.trace",
    "opentelemetry.metrics",
)

_TIMER = """
import time
start = time.perf_counter()
import {modules}
print(time.perf_counter() - start)
"""


def time_import(modules: Sequence[str]) -> float:
    """Seconds one fresh interpreter spends importing ``modules``."""
    code = _TIMER.format(modules=", ".join(modules))
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return float(out.strip())


def measure(runs: int) -> dict[str, float]:
    # Interleaved, so a burst of load on the machine hits both sides alike.
    deps: list[float] = []
    library: list[float] = []
    for _ in range(runs):
        deps.append(time_import(DEPENDENCIES))
        library.append(time_import(["kafkarpc"]))
    best_deps, best_library = min(deps), min(library)
    return {
        "dependencies_s": round(best_deps, 4),
        "kafkarpc_s": round(best_library, 4),
        "ratio": round(best_library / best_deps, 3),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per side")
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/importtime.json"), help="JSON file"
    )
    args = parser.parse_args(argv)
    result = {
        "runs": args.runs,
        "python": platform.python_version(),
        "dependencies": list(DEPENDENCIES),
        **measure(args.runs),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"import kafkarpc {result['kafkarpc_s'] * 1000:.0f} ms, its dependencies "
        f"{result['dependencies_s'] * 1000:.0f} ms: {result['ratio']:.2f}x (best of {args.runs})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
