"""A streaming responder run as its own process, so a test can SIGKILL it mid-stream.

Usage: python stream_responder_process.py BOOTSTRAP BASE GROUP
Prints ``ready`` once serving. A request ``{"n": N, "stall_after": K}`` yields
``{"i": 0}`` .. ``{"i": K-1}`` of ``{"i": 0}`` .. ``{"i": N-1}``, prints ``stalled``
and waits forever, for the test to kill it once its caller holds those K items.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import anyio

from kafkarpc import RpcServer


async def main(bootstrap: str, base: str, group: str) -> None:
    server = RpcServer(
        bootstrap,
        service="doomed-streamer",
        group_id=group,
        config={"session.timeout.ms": 2000, "heartbeat.interval.ms": 500},
    )

    @server.responder(base)
    async def count(payload: dict[str, int]) -> AsyncIterator[dict[str, int]]:
        for n in range(payload["n"]):
            if n == payload["stall_after"]:
                print("stalled", flush=True)
                await anyio.sleep_forever()
            yield {"i": n}

    async with server:
        print("ready", flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3])
