"""One client process of the clients curve: a kafkarpc RpcClient at a small fixed load.

Harness -> client: ``"go"``, later ``"stop"``. Client -> harness: ``("ready", None)``
after its warm-up calls (its reply route is assigned and the responder answers),
``("result", ClientOutcome)`` after its measured calls, or ``("error", traceback)``.
The client waits for ``"stop"`` before closing, so the CPU the harness reads when the
result arrives covers exactly the measured calls and nothing of shutting down.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Literal

from kafkarpc import RpcClient, Topics, TopicTrio

__all__ = ["ClientJob", "ClientOutcome", "client_main"]


@dataclass(frozen=True, slots=True)
class ClientJob:
    bootstrap: str
    base: str
    """The operation's topic base (benchmarks.kafka.TopicSet.base)."""
    index: int
    reply_partition: int | Literal["auto"] | None
    in_flight: int
    """The most calls one client has waiting for a reply."""
    rate: float
    """Calls started per second (a paced, open loop)."""
    calls: int
    warmup: int
    payload_bytes: int
    timeout_s: float


@dataclass(frozen=True, slots=True)
class ClientOutcome:
    calls: int
    errors: int
    first_error: str | None
    foreign_replies: int
    """Replies this client read that were not its own (``client.stats.late_replies``)."""
    wall_s: float


def _trio(base: str) -> TopicTrio:
    # The names and event types of benchmarks.systems.kafkarpc_system's echo responder.
    return TopicTrio.from_base(base, event_prefix="BENCH_ECHO")


async def _measured_calls(client: RpcClient, job: ClientJob) -> tuple[int, str | None]:
    """``job.calls`` calls started ``job.rate`` a second, at most ``job.in_flight`` at once.

    Paced, not a closed loop: with a closed loop a client's calls per second fall as
    the broker slows with more clients, and its time-driven costs (librdkafka's fetch
    and poll timers) would then weigh on fewer calls, growing its CPU per call for a
    reason that has nothing to do with other clients' replies.
    """
    trio = _trio(job.base)
    blob = "x" * job.payload_bytes
    slots = asyncio.Semaphore(job.in_flight)
    errors: list[str] = []
    loop = asyncio.get_running_loop()

    async def one(seq: int) -> None:
        try:
            await client.request(trio, {"seq": seq, "blob": blob})
        except Exception as exc:  # every failure is counted, never a crash
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            slots.release()

    started = loop.time()
    async with asyncio.TaskGroup() as group:
        for seq in range(job.calls):
            delay = started + seq / job.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await slots.acquire()
            group.create_task(one(seq))
    return len(errors), errors[0] if errors else None


async def _run(job: ClientJob, conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    async with RpcClient(
        job.bootstrap,
        service=f"bench-clients-{job.index}",
        timeout=job.timeout_s,
        topics=Topics(reply_partition=job.reply_partition),
    ) as client:
        trio = _trio(job.base)
        # The first call assigns the reply route; the rest let the connections settle.
        for seq in range(job.warmup):
            await client.request(trio, {"seq": -1 - seq, "blob": ""})
        conn.send(("ready", None))
        if await asyncio.to_thread(conn.recv) != "go":
            return
        foreign_before = client.stats.late_replies
        started = loop.time()
        errors, first_error = await _measured_calls(client, job)
        wall = loop.time() - started
        conn.send(
            (
                "result",
                ClientOutcome(
                    calls=job.calls,
                    errors=errors,
                    first_error=first_error,
                    foreign_replies=client.stats.late_replies - foreign_before,
                    wall_s=wall,
                ),
            )
        )
        with contextlib.suppress(EOFError):  # the harness went away: nothing to wait for
            await asyncio.to_thread(conn.recv)


def client_main(job: ClientJob, conn: Connection) -> None:
    """The spawned process's entry point; a crash travels to the harness as its traceback."""
    try:
        asyncio.run(_run(job, conn))
    except BaseException:
        with contextlib.suppress(OSError):
            conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()
