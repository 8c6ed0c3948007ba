"""``kafkarpc dlq inspect|replay TOPIC``: look into and drain dead-letter topics."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict

import anyio

from .._exceptions import ConfigurationError, KafkaRpcError
from ..dlq import inspect_dlq, replay_dlq
from ._common import BOOTSTRAP_ENV, EXIT_FAILURE, EXIT_OK, CliError, Subcommands, configure_logging

__all__ = ["register"]


def register(commands: Subcommands) -> None:
    parser = commands.add_parser("dlq", help="inspect or replay a dead-letter topic")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    inspect = actions.add_parser(
        "inspect",
        help="print every record of TOPIC, one JSON object per line",
        description=(
            "Read TOPIC (e.g. agent.routing.requested.v1.dlq) from the beginning and print "
            "one JSON line per record: where it came from, why it was parked, and its "
            "correlation id. Payloads are not printed."
        ),
    )
    inspect.add_argument("--limit", type=int, default=None, help="stop after N records")
    inspect.set_defaults(handler=_cmd_inspect)
    replay = actions.add_parser(
        "replay",
        help="re-publish TOPIC's records to their original topics",
        description=(
            "Re-publish every record to the topic named in its kafka_dlt-original-topic "
            "header and print {processed, succeeded, failed} as JSON. Requests keep their "
            "idempotency_key, so running replay twice does not execute a request twice. "
            "Poison records (not a decodable envelope) count as failed and stay parked "
            "unless --include-poison."
        ),
    )
    replay.add_argument("--include-poison", action="store_true", help="replay poison too")
    replay.set_defaults(handler=_cmd_replay)
    for action in (inspect, replay):
        action.add_argument("topic", metavar="TOPIC", help="the dead-letter topic")
        action.add_argument(
            "--bootstrap",
            metavar="HOST:PORT",
            default=os.environ.get(BOOTSTRAP_ENV),
            help=f"broker list (default: ${BOOTSTRAP_ENV})",
        )


def _bootstrap(args: argparse.Namespace) -> str:
    configure_logging("critical")  # one-line errors below say what failed
    if not args.bootstrap:
        raise CliError(f"give --bootstrap HOST:PORT or set ${BOOTSTRAP_ENV}")
    return str(args.bootstrap)


def _cmd_inspect(args: argparse.Namespace) -> int:
    bootstrap = _bootstrap(args)
    try:
        letters = anyio.run(lambda: inspect_dlq(bootstrap, args.topic, limit=args.limit))
    except ConfigurationError as exc:
        raise CliError(str(exc)) from exc
    except KafkaRpcError as exc:
        raise CliError(str(exc), EXIT_FAILURE) from exc
    for letter in letters:
        print(json.dumps(letter.summary()))
    return EXIT_OK


def _cmd_replay(args: argparse.Namespace) -> int:
    bootstrap = _bootstrap(args)
    try:
        result = anyio.run(
            lambda: replay_dlq(bootstrap, args.topic, include_poison=args.include_poison)
        )
    except ConfigurationError as exc:
        raise CliError(str(exc)) from exc
    except KafkaRpcError as exc:
        raise CliError(str(exc), EXIT_FAILURE) from exc
    print(json.dumps(asdict(result)))
    return EXIT_OK if result.failed == 0 else EXIT_FAILURE
