"""A responder run as its own process by the fault tests (so it can be SIGKILLed).

Usage: python responder_process.py BOOTSTRAP BASE GROUP [IDEMPOTENCY_DB]
Prints ``ready`` once serving and ``handling <n>`` when a request starts. Requests
with ``{"hang": true}`` never finish; ``{"work": seconds}`` takes that long.
"""

from __future__ import annotations

import sys

import anyio

from kafkarpc import RpcServer, SqliteIdempotencyStore


async def main(bootstrap: str, base: str, group: str, store_path: str = "") -> None:
    server = RpcServer(
        bootstrap,
        service="doomed-responder",
        group_id=group,
        idempotency_store=SqliteIdempotencyStore(store_path) if store_path else None,
        config={"session.timeout.ms": 2000, "heartbeat.interval.ms": 500},
    )

    @server.responder(base)
    async def work(payload: dict[str, object]) -> dict[str, object]:
        print(f"handling {payload['n']}", flush=True)
        if payload.get("hang"):
            await anyio.sleep_forever()
        seconds = payload.get("work", 0)
        assert isinstance(seconds, int | float)
        await anyio.sleep(seconds)
        return {"by": "doomed", "n": payload["n"]}

    async with server:
        print("ready", flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    store_path = sys.argv[4] if len(sys.argv) > 4 else ""
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3], store_path)
