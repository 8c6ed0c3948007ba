"""``kafkarpc dlq inspect|replay TOPIC``: look into and drain dead-letter topics."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

import anyio

from ..dlq import inspect_dlq, replay_dlq
from ._common import (
    EXIT_FAILURE,
    EXIT_OK,
    Subcommands,
    add_bootstrap_option,
    add_command,
    configure_logging,
    library_errors,
    require_bootstrap,
)

__all__ = ["register"]

_INSPECT_HELP = "print every record of TOPIC, one JSON object per line"
_INSPECT_DESCRIPTION = """
Read TOPIC (e.g. agent.routing.requested.v1.dlq) from the beginning and print one JSON
line per record: where it came from, why it was parked, and its correlation id.
Payloads are not printed.
"""
_REPLAY_HELP = "re-publish TOPIC's records to their original topics"
_REPLAY_DESCRIPTION = """
Re-publish every record to the topic named in its kafka_dlt-original-topic header and
print {processed, succeeded, failed} as JSON. Requests keep their idempotency_key, so
running replay twice does not execute a request twice. Poison records (not a decodable
envelope) count as failed and stay parked unless --include-poison.
"""


def register(commands: Subcommands) -> None:
    parser = commands.add_parser("dlq", help="inspect or replay a dead-letter topic")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    inspect = add_command(
        actions, "inspect", _cmd_inspect, help=_INSPECT_HELP, description=_INSPECT_DESCRIPTION
    )
    inspect.add_argument("--limit", type=int, default=None, help="stop after N records")
    replay = add_command(
        actions, "replay", _cmd_replay, help=_REPLAY_HELP, description=_REPLAY_DESCRIPTION
    )
    replay.add_argument("--include-poison", action="store_true", help="replay poison too")
    for action in (inspect, replay):
        action.add_argument("topic", metavar="TOPIC", help="the dead-letter topic")
        add_bootstrap_option(action)


def _bootstrap(args: argparse.Namespace) -> str:
    configure_logging("critical")  # one-line errors below say what failed
    return require_bootstrap(args)


def _cmd_inspect(args: argparse.Namespace) -> int:
    bootstrap = _bootstrap(args)
    with library_errors():
        letters = anyio.run(lambda: inspect_dlq(bootstrap, args.topic, limit=args.limit))
    for letter in letters:
        print(json.dumps(letter.summary()))
    return EXIT_OK


def _cmd_replay(args: argparse.Namespace) -> int:
    bootstrap = _bootstrap(args)
    with library_errors():
        result = anyio.run(
            lambda: replay_dlq(bootstrap, args.topic, include_poison=args.include_poison)
        )
    print(json.dumps(asdict(result)))
    return EXIT_OK if result.failed == 0 else EXIT_FAILURE
