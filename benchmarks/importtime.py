"""How long ``import kafkarpc`` takes, next to importing only its runtime dependencies.

``python -m benchmarks.importtime`` (from the root of a clone) starts a fresh
interpreter per measurement, so nothing is cached in ``sys.modules``; it times the
import statement alone (not the interpreter's own start-up), takes the best of
``--runs`` (noise only ever adds time), and writes
``benchmarks/results/importtime.json``. The ratio is what docs/benchmarks.md
("Import time") reports: every ``kafkarpc call`` pays the import first.

Bytecode is cached as an installed package has it (pip compiles on install):
with ``PYTHONDONTWRITEBYTECODE`` set, as in some development shells, every run
would compile kafkarpc's modules from source, which no user pays. The cache
lives in a temporary ``PYTHONPYCACHEPREFIX`` and is warmed once before timing.

``import pydantic`` alone is lazy: it loads none of the model machinery, which
any library with a pydantic model loads at import. ``dependencies_with_models_s``
adds ``pydantic.main`` to the dependencies, the floor a pydantic-based
kafkarpc can reach.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
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
WITH_MODELS = (*DEPENDENCIES, "pydantic.main")

_TIMER = """
import time
start = time.perf_counter()
import {modules}
print(time.perf_counter() - start)
"""


def time_import(modules: Sequence[str], env: Mapping[str, str] | None = None) -> float:
    """Seconds one fresh interpreter spends importing ``modules``."""
    code = _TIMER.format(modules=", ".join(modules))
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env
    ).stdout
    return float(out.strip())


def cached_bytecode_env(prefix: str) -> dict[str, str]:
    """This environment, writing and reading bytecode under ``prefix``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = prefix
    return env


def measure(runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="importtime-pycache-") as prefix:
        env = cached_bytecode_env(prefix)
        time_import([*WITH_MODELS, "kafkarpc"], env)  # warm the bytecode cache
        # Interleaved, so a burst of load on the machine hits every side alike.
        deps: list[float] = []
        models: list[float] = []
        library: list[float] = []
        for _ in range(runs):
            deps.append(time_import(DEPENDENCIES, env))
            models.append(time_import(WITH_MODELS, env))
            library.append(time_import(["kafkarpc"], env))
    best_deps, best_library = min(deps), min(library)
    return {
        "dependencies_s": round(best_deps, 4),
        "dependencies_with_models_s": round(min(models), 4),
        "kafkarpc_s": round(best_library, 4),
        "ratio": round(best_library / best_deps, 3),
        "floor_ratio": round(min(models) / best_deps, 3),
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
        f"{result['dependencies_s'] * 1000:.0f} ms: {result['ratio']:.2f}x (best of {args.runs}); "
        f"with pydantic's model machinery {result['dependencies_with_models_s'] * 1000:.0f} ms "
        f"({result['floor_ratio']:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
