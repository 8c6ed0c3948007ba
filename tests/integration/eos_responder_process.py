"""A responder run as its own process by the exactly-once tests (SIGKILL, SIGSTOP).

Usage: python eos_responder_process.py BOOTSTRAP BASE GROUP MODE NAME [STORE]
MODE is ``exactly_once`` or ``at_least_once``; STORE, a SqliteIdempotencyStore file.
The handler publishes ``{"n": n}`` to ``BASE.events`` through its RequestContext,
then works ``payload["work"]`` seconds and answers ``{"by": NAME, "n": n}``. Prints
``ready`` once serving, ``handling <n>`` when a request starts and
``answered <n>`` when its handler returns; warnings are logged to stderr.
"""

from __future__ import annotations

import logging
import sys

import anyio

from kafkarpc import ExactlyOnce, RequestContext, RpcServer, SqliteIdempotencyStore


async def main(bootstrap: str, base: str, group: str, mode: str, name: str, store: str) -> None:
    server = RpcServer(
        bootstrap,
        service=name,
        group_id=group,
        idempotency_store=SqliteIdempotencyStore(store) if store else None,
        config={"session.timeout.ms": 2000, "heartbeat.interval.ms": 500},
        exactly_once=ExactlyOnce() if mode == "exactly_once" else None,
    )

    @server.responder(base)
    async def work(payload: dict[str, float], context: RequestContext) -> dict[str, object]:
        print(f"handling {int(payload['n'])}", flush=True)
        context.publish(f"{base}.events", {"n": payload["n"]})
        await anyio.sleep(payload.get("work", 0))
        print(f"answered {int(payload['n'])}", flush=True)
        return {"by": name, "n": payload["n"]}

    async with server:
        print("ready", flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    bootstrap, base, group, mode, name = sys.argv[1:6]
    store = sys.argv[6] if len(sys.argv) > 6 else ""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)  # the tests read it
    anyio.run(main, bootstrap, base, group, mode, name, store)
