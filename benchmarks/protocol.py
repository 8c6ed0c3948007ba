"""What the harness and a system's processes exchange over a multiprocessing pipe.

Harness -> client: ``"go"``. Client -> harness: ``("ready", None)``,
``("progress", measured_done)``, then ``("result", ClientReport)`` or
``("error", traceback)``. Harness -> responder: ``"stop"``. Responder ->
harness: ``("ready", None)``, then ``("stopped", ResponderReport)`` or ``("error", ...)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from benchmarks.kafka import TopicSet
from benchmarks.memory import current_rss_mb
from benchmarks.tracker import Samples
from benchmarks.workload import Workload

__all__ = [
    "ClientLink",
    "ClientReport",
    "ClientSpec",
    "ResponderLink",
    "ResponderReport",
    "ResponderSpec",
]


@dataclass(frozen=True, slots=True)
class ClientSpec:
    bootstrap: str
    topics: TopicSet
    workload: Workload
    extra_config: dict[str, str] = field(default_factory=dict)
    """librdkafka overrides for systems that accept them (--kafkarpc-config)."""
    service: str = "bench-client"


@dataclass(frozen=True, slots=True)
class ResponderSpec:
    bootstrap: str
    topics: TopicSet
    group_id: str
    extra_config: dict[str, str] = field(default_factory=dict)
    service: str = "bench-responder"


@dataclass(frozen=True, slots=True)
class ClientReport:
    samples: Samples
    rss_base_mb: float | None
    """After imports, before connecting: the interpreter and libraries alone."""
    rss_peak_mb: float | None


@dataclass(frozen=True, slots=True)
class ResponderReport:
    handled: int
    rss_peak_mb: float | None
    ready_s: float | None = None
    """From the process's entry point to ``ready()``: imports, connecting, the group join."""
    ready_rss_mb: float | None = None
    """Resident memory when it announced ready: serving, before any load."""


class ClientLink:
    """The client process's end of the pipe."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def ready(self) -> None:
        """Connected and positioned on the reply topics; blocks until the harness says go."""
        self._conn.send(("ready", None))
        if self._conn.recv() != "go":
            raise SystemExit("harness cancelled the level")

    def progress(self, measured_done: int) -> None:
        self._conn.send(("progress", measured_done))


class ResponderLink:
    """The responder process's end of the pipe."""

    def __init__(self, conn: Connection, *, started: float | None = None) -> None:
        self._conn = conn
        self._started = time.monotonic() if started is None else started
        self.ready_s: float | None = None
        self.ready_rss_mb: float | None = None

    def ready(self) -> None:
        """Has its partitions and is positioned: requests sent from now on are served."""
        self.ready_s = time.monotonic() - self._started
        self.ready_rss_mb = current_rss_mb()
        self._conn.send(("ready", None))

    def stop_requested(self) -> bool:
        return self._conn.poll()

    def wait_for_stop(self) -> None:
        """Blocks until the harness asks to stop (or goes away)."""
        try:
            self._conn.recv()
        except EOFError:
            return
