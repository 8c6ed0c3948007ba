"""kafkarpc benchmark: the library against hand-written request/reply loops.

Runs, side by side and in one invocation, against a real broker:

* ``raw`` - a single-threaded confluent-kafka client and responder, no framework:
  the floor any Kafka request/reply can reach on this machine;
* ``handrolled`` - the aiokafka pattern of the reference documents (futures in a
  dict keyed by correlation id, ``asyncio.wait_for`` timeouts), against the same
  responder as ``raw``;
* ``kafkarpc`` - ``RpcClient`` against ``RpcServer``.

For every system and every load (requests kept in flight by a closed loop) it
creates fresh topics, starts the responder and the client each in its own
process, waits for the responder's consumer-group join, runs a warm-up, then
measures a fixed number of requests. It reports p50/p95/p99 latency, requests/s,
peak RSS of the client and of the responder process, and the ratios
kafkarpc/raw and kafkarpc/handrolled, as a table, a JSON file and a PNG plot.

Usage (from the repository root; ``PYTHONPATH=src`` until kafkarpc is installed)::

    python -m benchmarks.run                         # embedded broker, all systems
    python -m benchmarks.run --loads 1,16 --requests 500 --systems raw,handrolled
    python -m benchmarks.run --bootstrap 127.0.0.1:9092 --out /tmp/bench

Without ``--bootstrap`` an embedded Tansu broker is started (``kafkarpc[broker]``).
Tansu answers a fetch only after ``fetch.wait.max.ms`` (10 ms here for every
system), so absolute latencies include ~5 ms of broker wait per hop; compare
systems, not absolute numbers, across brokers. ``--seed`` fixes payload contents
and the order in which systems run at each load.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
