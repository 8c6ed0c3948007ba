"""``kafkarpc dev-broker``: an embedded Tansu broker in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import AsyncIterator

import anyio

from .._broker import EmbeddedBroker, start_broker
from .._exceptions import KafkaRpcError
from ._common import EXIT_FAILURE, EXIT_OK, CliError, Subcommands, add_command

__all__ = ["register"]

_HELP = "run an in-memory Kafka-compatible broker (Tansu) for development"
_DESCRIPTION = """
Start the embedded Tansu broker (needs the 'broker' extra), print 'bootstrap: 127.0.0.1:PORT'
and run until SIGINT or SIGTERM. Everything it stores is lost when it stops.
"""


def register(commands: Subcommands) -> None:
    parser = add_command(
        commands, "dev-broker", _cmd_dev_broker, help=_HELP, description=_DESCRIPTION
    )
    parser.add_argument(
        "--port", type=int, default=None, help="port to listen on (default: a free one)"
    )


async def _until_signal_or_exit(broker: EmbeddedBroker, signals: AsyncIterator[int]) -> int:
    """Block until SIGINT/SIGTERM (exit 0) or until the broker dies by itself (exit 1)."""
    outcome = EXIT_OK
    async with anyio.create_task_group() as tasks:

        async def watch_broker() -> None:
            nonlocal outcome
            code = await anyio.to_thread.run_sync(broker.process.wait, abandon_on_cancel=True)
            print(f"kafkarpc dev-broker: the broker exited with code {code}", file=sys.stderr)
            outcome = EXIT_FAILURE
            tasks.cancel_scope.cancel()

        tasks.start_soon(watch_broker)
        async for _ in signals:
            break
        tasks.cancel_scope.cancel()
    return outcome


async def _run_dev_broker(port: int | None) -> int:
    # Listen for signals before the broker exists: a signal that arrives while it starts
    # is queued instead of killing us by default and orphaning the broker.
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        broker = await anyio.to_thread.run_sync(start_broker, port)
        try:
            print(f"bootstrap: {broker.bootstrap}", flush=True)
            return await _until_signal_or_exit(broker, signals)
        finally:
            await anyio.to_thread.run_sync(broker.stop)


def _cmd_dev_broker(args: argparse.Namespace) -> int:
    try:
        return anyio.run(_run_dev_broker, args.port)
    except KafkaRpcError as exc:
        raise CliError(str(exc), EXIT_FAILURE) from exc
