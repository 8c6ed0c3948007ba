"""A responder run as its own process by the fault tests (so it can be SIGKILLed).

Usage: python responder_process.py BOOTSTRAP BASE GROUP
Prints ``ready`` once serving and ``handling <n>`` when a request starts; requests
with ``{"hang": true}`` never finish, so the process dies with them in flight.
"""

from __future__ import annotations

import sys

import anyio

from kafkarpc import RpcServer


async def main(bootstrap: str, base: str, group: str) -> None:
    server = RpcServer(
        bootstrap,
        service="doomed-responder",
        group_id=group,
        config={"session.timeout.ms": 2000, "heartbeat.interval.ms": 500},
    )

    @server.responder(base)
    async def work(payload: dict[str, object]) -> dict[str, object]:
        print(f"handling {payload['n']}", flush=True)
        if payload.get("hang"):
            await anyio.sleep_forever()
        return {"by": "doomed", "n": payload["n"]}

    async with server:
        print("ready", flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, *sys.argv[1:4])
