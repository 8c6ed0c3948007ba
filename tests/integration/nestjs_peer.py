"""A real NestJS 11 peer (tests/peers/nestjs/peer.js) for interop tests.

``NestPeer.serve`` runs a NestJS Kafka microservice in a process of its own;
``NestPeer.call`` runs a NestJS ``ClientKafka`` that sends payloads and returns
what NestJS made of the replies. Node.js runs them; ``npm ci`` installs the
locked packages on first use, so the README's test command needs nothing more.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process

PEER_DIR = Path(__file__).resolve().parents[1] / "peers" / "nestjs"

# kafkajs warns once per producer about its v2 partitioner change; it is noise here.
_ENV = {**os.environ, "KAFKAJS_NO_PARTITIONER_WARNING": "1"}


def install() -> str:
    """The node executable, after installing the peer's locked packages if they are missing."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js is not installed: the NestJS peer cannot run")
    if not (PEER_DIR / "node_modules" / "@nestjs" / "microservices").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=PEER_DIR,
            check=True,
            timeout=300,
        )
    return node


class NestPeer:
    """Starts NestJS microservices and runs NestJS clients against one broker."""

    def __init__(self, node: str, bootstrap: str) -> None:
        self._node = node
        self._bootstrap = bootstrap

    @asynccontextmanager
    async def serve(self, group_id: str, prefix: str) -> AsyncIterator[Process]:
        """A NestJS microservice answering ``<prefix>.sum/.refuse/.whoami/.count``.

        Returns once its consumer has joined the group (the peer prints READY).
        """
        process = await anyio.open_process(
            [self._node, str(PEER_DIR / "peer.js"), "serve", self._bootstrap, group_id, prefix],
            env=_ENV,
        )
        try:
            assert process.stdout is not None
            seen = b""
            with anyio.fail_after(45):
                while b"READY\n" not in seen:
                    seen += await process.stdout.receive()
            yield process
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                with anyio.move_on_after(10):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
            await process.aclose()

    async def call(self, group_id: str, pattern: str, payloads: Sequence[Any]) -> list[Any]:
        """Send every payload at once through a NestJS ``ClientKafka``.

        Returns, per payload, ``{"ok": [reply, ...]}`` (every reply of the call, in
        order) or ``{"error": <what NestJS raised>}``.
        """
        completed = await anyio.run_process(
            [
                self._node,
                str(PEER_DIR / "peer.js"),
                "call",
                self._bootstrap,
                group_id,
                pattern,
                json.dumps(list(payloads)),
            ],
            env=_ENV,
            check=False,
        )
        if completed.returncode != 0:
            raise AssertionError(
                f"NestJS client failed ({completed.returncode}): {completed.stderr.decode()}"
            )
        results: list[Any] = json.loads(completed.stdout.decode().strip().splitlines()[-1])
        return results
