"""``kafkarpc serve --workers N``: N server processes in one consumer group, supervised.

Python runs one handler at a time per process; a CPU-bound handler needs more
processes, not more tasks. Each worker is a plain ``kafkarpc serve`` child: the
group spreads the request partitions over them, so they need no coordination.

The supervisor decides what a worker's exit means with ``after_exit`` (pure) and
acts on it in one place, ``_Supervisor._keep``:

* stopped by us (SIGTERM/SIGINT forwarded): done; the worker drained first.
* exit code 1 or 2 (the broker is unreachable, a topic is missing, bad options):
  restarting cannot help, so every worker is stopped and the supervisor exits
  with that code, as a single ``kafkarpc serve`` would.
* anything else (killed by a signal, out of memory, exit 0 nobody asked for): a
  crash; the worker is restarted after a backoff that doubles while it keeps
  crashing soon after starting.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
from anyio.abc import Process

from ._common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE

__all__ = ["Restart", "Stop", "after_exit", "supervise"]

logger = logging.getLogger("kafkarpc.serve")

#: A worker that ran at least this long before crashing starts over at the first backoff.
STABLE_AFTER_S = 30.0
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 10.0


@dataclass(frozen=True, slots=True)
class Restart:
    """Start the worker again after ``delay`` seconds."""

    delay: float
    crashes_in_a_row: int


@dataclass(frozen=True, slots=True)
class Stop:
    """Stop supervising this worker; ``exit_code`` is None when it stopped as asked."""

    exit_code: int | None


def after_exit(
    returncode: int, *, stopping: bool, ran_for: float, crashes_in_a_row: int
) -> Restart | Stop:
    """What to do once a worker process ended with ``returncode`` (negative: a signal)."""
    if stopping:
        return Stop(None if returncode == EXIT_OK else EXIT_FAILURE)
    if returncode in (EXIT_FAILURE, EXIT_USAGE):
        return Stop(returncode)
    crashes = 1 if ran_for >= STABLE_AFTER_S else crashes_in_a_row + 1
    return Restart(min(FIRST_BACKOFF_S * 2 ** (crashes - 1), MAX_BACKOFF_S), crashes)


def _describe(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


class _Supervisor:
    """Keeps ``count`` copies of ``command`` running until told to stop."""

    def __init__(self, command: Sequence[str], count: int) -> None:
        self._command = list(command)
        self._count = count
        self._live: dict[int, Process] = {}
        self._stopping = False
        self._stopped = anyio.Event()
        self._exit_code = EXIT_OK

    async def run(self) -> int:
        async with anyio.create_task_group() as outer:
            outer.start_soon(self._watch_signals)
            async with anyio.create_task_group() as workers:
                for number in range(1, self._count + 1):
                    workers.start_soon(self._keep, number)
            outer.cancel_scope.cancel()
        return self._exit_code

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                logger.info(
                    "received %s; stopping %d workers", signal.Signals(signum).name, self._count
                )
                self._stop_all()

    def _stop_all(self) -> None:
        self._stopping = True
        self._stopped.set()
        for process in self._live.values():
            if process.returncode is None:
                process.terminate()  # each worker drains its in-flight requests first

    async def _keep(self, number: int) -> None:
        crashes = 0
        while not self._stopping:
            # Workers get sessions of their own: a Ctrl-C in the terminal reaches only the
            # supervisor, which forwards one SIGTERM; a second signal would cut a drain short.
            process = await anyio.open_process(
                self._command,
                stdin=subprocess.DEVNULL,
                stdout=None,
                stderr=None,
                start_new_session=True,
            )
            self._live[number] = process
            started = time.monotonic()
            logger.info("worker %d started (pid %d)", number, process.pid)
            if self._stopping:  # the signal came while this worker was being spawned
                process.terminate()
            try:
                with anyio.CancelScope(shield=True):
                    returncode = await process.wait()
            finally:
                del self._live[number]
                await process.aclose()
            decision = after_exit(
                returncode,
                stopping=self._stopping,
                ran_for=time.monotonic() - started,
                crashes_in_a_row=crashes,
            )
            if isinstance(decision, Stop):
                self._finish(number, process.pid, returncode, decision)
                return
            crashes = decision.crashes_in_a_row
            logger.warning(
                "worker %d (pid %d) %s; restarting in %.1fs",
                number,
                process.pid,
                _describe(returncode),
                decision.delay,
            )
            # Back off, so that a crash loop does not spin; a stop cuts the wait short.
            with anyio.move_on_after(decision.delay):
                await self._stopped.wait()

    def _finish(self, number: int, pid: int, returncode: int, decision: Stop) -> None:
        if decision.exit_code is None:
            logger.info("worker %d (pid %d) stopped", number, pid)
            return
        if self._stopping:
            logger.error("worker %d (pid %d) %s while stopping", number, pid, _describe(returncode))
        else:
            logger.error(
                "worker %d (pid %d) %s; restarting would not help, stopping all workers",
                number,
                pid,
                _describe(returncode),
            )
        self._exit_code = max(self._exit_code, decision.exit_code)
        self._stop_all()


def supervise(command: Sequence[str], count: int) -> int:
    """Run ``count`` workers of ``command`` until SIGTERM/SIGINT; returns the exit code."""
    return anyio.run(_Supervisor(command, count).run)
