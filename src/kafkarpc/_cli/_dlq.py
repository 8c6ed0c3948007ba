"""``kafkarpc dlq inspect|replay TOPIC``: look into and drain dead-letter topics."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TypeVar

import anyio

from .._exceptions import TopicNotFound
from ._common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Subcommands,
    add_bootstrap_option,
    add_command,
    configure_logging,
    library_errors,
    require_bootstrap,
)

__all__ = ["register"]

_T = TypeVar("_T")

# Shown by `kafkarpc dlq --help` and by each action's --help.
_EXIT_CODES = f"""
exit codes: {EXIT_OK} done (an existing but empty topic included: `inspect` then says so
on stderr); {EXIT_FAILURE} TOPIC does not exist, the broker could not be used, or `replay`
left records not re-published; {EXIT_USAGE} usage error (e.g. no --bootstrap).
"""

_INSPECT_HELP = "print every record of TOPIC, one JSON object per line"
_INSPECT_DESCRIPTION = """
Read TOPIC (e.g. agent.routing.requested.v1.dlq) from the beginning and print one JSON
line per record: where it came from, why it was parked, and its correlation id.
Payloads are not printed. A TOPIC that does not exist is an error, not an empty topic.
"""
_REPLAY_HELP = "re-publish TOPIC's records to their original topics"
_REPLAY_DESCRIPTION = """
Re-publish every record to the topic named in its kafka_dlt-original-topic header and
print {processed, republished, not_republished} as JSON (plus succeeded and failed, the
former names of the last two). The counts are of re-publishing: replay does not wait for
the responders, so "republished" does not mean the request then succeeded. The original
caller's deadline is dropped, so a late replay still runs; requests keep their
idempotency_key, so running replay twice does not execute a request twice. Poison records
(not a decodable envelope) are not re-published and stay parked unless --include-poison.
"""


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "dlq", help="inspect or replay a dead-letter topic", epilog=_EXIT_CODES
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    inspect = add_command(
        actions,
        "inspect",
        _cmd_inspect,
        help=_INSPECT_HELP,
        description=_INSPECT_DESCRIPTION,
        epilog=_EXIT_CODES,
    )
    inspect.add_argument("--limit", type=int, default=None, help="stop after N records")
    replay = add_command(
        actions,
        "replay",
        _cmd_replay,
        help=_REPLAY_HELP,
        description=_REPLAY_DESCRIPTION,
        epilog=_EXIT_CODES,
    )
    replay.add_argument("--include-poison", action="store_true", help="replay poison too")
    for action in (inspect, replay):
        action.add_argument("topic", metavar="TOPIC", help="the dead-letter topic")
        add_bootstrap_option(action)


def _bootstrap(args: argparse.Namespace) -> str:
    configure_logging("critical")  # one-line errors below say what failed
    return require_bootstrap(args)


def _run(topic: str, work: Callable[[], Awaitable[_T]]) -> _T:
    """Run one DLQ tool; a missing topic is its own one-line error, not an empty result."""
    with library_errors():
        try:
            return anyio.run(work)
        except TopicNotFound as exc:
            raise CliError(
                f"topic {topic!r} does not exist (check the name; nothing was ever parked there)",
                EXIT_FAILURE,
            ) from exc


def _cmd_inspect(args: argparse.Namespace) -> int:
    from ..dlq import inspect_dlq  # not at import: other commands need no DLQ tools

    bootstrap = _bootstrap(args)
    letters = _run(args.topic, lambda: inspect_dlq(bootstrap, args.topic, limit=args.limit))
    if not letters:
        # stdout stays empty for scripts; the person at the terminal learns why.
        print(f"topic {args.topic!r} exists and is empty", file=sys.stderr)
    for letter in letters:
        print(json.dumps(letter.summary()))
    return EXIT_OK


def _cmd_replay(args: argparse.Namespace) -> int:
    from ..dlq import replay_dlq  # not at import: other commands need no DLQ tools

    bootstrap = _bootstrap(args)
    result = _run(
        args.topic,
        lambda: replay_dlq(bootstrap, args.topic, include_poison=args.include_poison),
    )
    # The former keys too: scripts written against them keep working.
    print(json.dumps({**asdict(result), "succeeded": result.succeeded, "failed": result.failed}))
    return EXIT_OK if result.not_republished == 0 else EXIT_FAILURE
