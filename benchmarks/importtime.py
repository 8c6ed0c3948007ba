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

Two more figures put the ratio in context. ``first_client_s`` is ``import
kafkarpc`` plus making an ``RpcClient`` and the modules its ``start()`` loads:
what ``kafkarpc call`` has loaded before it connects, the Kafka transport and the
send pipeline included, which the import itself leaves for first use.
``dependencies_with_a_model_s`` is the dependencies plus one small pydantic model
class: ``import pydantic`` alone is lazy and loads none of the model machinery,
which the first model class does; that is why kafkarpc's own models
(``Envelope``, ``ErrorPayload``) load on first use.

The last line printed is the table row docs/benchmarks.md shows for the result.
A run worth keeping goes, as the JSON object written, into ``importtime.runs`` of
``benchmarks/results/history.json``, from which ``python -m benchmarks.docs``
renders the page's "Import time" table with ``table_row``.
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
from typing import Any

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
_IMPORT_DEPENDENCIES = "import " + ", ".join(DEPENDENCIES)
# The smallest model a library could define: what its first class costs.
_WITH_A_MODEL = f"""{_IMPORT_DEPENDENCIES}
from pydantic import BaseModel, ConfigDict
class Model(BaseModel):
    model_config = ConfigDict(defer_build=True)
    name: str
"""
# Making the client loads the Kafka transport; start() then loads the send pipeline
# and the admin client before it connects.
_FIRST_CLIENT = """import kafkarpc
kafkarpc.RpcClient("127.0.0.1:9092", service="importtime")
import kafkarpc.client.pipeline, confluent_kafka.admin
"""

_TIMER = """
import time
start = time.perf_counter()
{code}
print(time.perf_counter() - start)
"""


def time_code(code: str, env: Mapping[str, str] | None = None) -> float:
    """Seconds one fresh interpreter spends running ``code`` (imports and all)."""
    code = _TIMER.format(code=code)
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env
    ).stdout
    return float(out.strip())


def cached_bytecode_env(prefix: str) -> dict[str, str]:
    """This environment, writing and reading bytecode under ``prefix``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = prefix
    return env


CASES = {
    "dependencies_s": _IMPORT_DEPENDENCIES,
    "kafkarpc_s": "import kafkarpc",
    "first_client_s": _FIRST_CLIENT,
    "dependencies_with_a_model_s": _WITH_A_MODEL,
}


def measure(runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="importtime-pycache-") as prefix:
        env = cached_bytecode_env(prefix)
        for code in CASES.values():
            time_code(code, env)  # warm the bytecode cache
        # Interleaved, so a burst of load on the machine hits every side alike.
        times: dict[str, list[float]] = {name: [] for name in CASES}
        for _ in range(runs):
            for name, code in CASES.items():
                times[name].append(time_code(code, env))
    best = {name: min(seconds) for name, seconds in times.items()}
    deps = best["dependencies_s"]
    return {
        **{name: round(seconds, 4) for name, seconds in best.items()},
        "ratio": round(best["kafkarpc_s"] / deps, 3),
        "first_client_ratio": round(best["first_client_s"] / deps, 3),
        "model_ratio": round(best["dependencies_with_a_model_s"] / deps, 3),
    }


def measured_commit() -> str:
    """The commit of the kafkarpc these runs import (``+`` when its sources have changes)."""
    package = subprocess.run(
        [sys.executable, "-c", "import kafkarpc; print(kafkarpc.__file__)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    where = ["git", "-C", str(Path(package).parent)]
    try:
        head = subprocess.run(
            [*where, "rev-parse", "--short", "HEAD"], check=True, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*where, "status", "--porcelain", "--untracked-files=no", "--", "."],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return head + ("+" if dirty else "")


def table_row(result: Mapping[str, Any]) -> str:
    """docs/benchmarks.md's "Import time" row for one JSON result."""

    def ms(name: str) -> str:
        return f"{float(result[name]) * 1000:.0f} ms"

    return (
        f"| `{result['commit']}` | {ms('kafkarpc_s')} | {ms('dependencies_s')} "
        f"| **{float(result['ratio']):.2f}x** | {ms('first_client_s')} "
        f"({float(result['first_client_ratio']):.2f}x) "
        f"| {ms('dependencies_with_a_model_s')} ({float(result['model_ratio']):.2f}x) |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per side")
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/importtime.json"), help="JSON file"
    )
    parser.add_argument(
        "--row", type=Path, help="print the docs table row of this earlier JSON result and exit"
    )
    parser.add_argument(
        "--label", help="name the measured code (default: the commit of the kafkarpc imported)"
    )
    args = parser.parse_args(argv)
    if args.row is not None:
        print(table_row(json.loads(args.row.read_text())))
        return 0
    result = {
        "commit": args.label or measured_commit(),
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
    print(table_row(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
