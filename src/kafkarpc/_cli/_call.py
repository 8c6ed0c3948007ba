"""``kafkarpc call OP PAYLOAD``: one request from the shell."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import anyio

from .._exceptions import ConfigurationError, KafkaRpcError, RemoteError, RequestTimeout
from ..client.facade import DEFAULT_TIMEOUT, RpcClient
from ..wire.topics import TopicPrefix, TopicTrio
from ._common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_UNDELIVERED,
    CliError,
    Subcommands,
    add_bootstrap_option,
    add_command,
    configure_logging,
    require_bootstrap,
)

__all__ = ["register"]

_HELP = "send one request and print the reply"
_DESCRIPTION = """
Send PAYLOAD (a JSON object; '-' reads it from stdin; default {}) to OP and print the
reply payload as JSON on stdout. OP is a base name such as agent.routing; for topics
that do not follow {base}.requested.{version}, give --requested, --completed and
--failed instead of OP.
"""
_EPILOG = """
exit codes: 0 reply printed, 1 failure reply (its payload is printed as JSON on stderr),
2 bad arguments, 3 no reply within --timeout, 4 request not delivered (the broker is
unreachable, a TLS handshake failed, or the broker refused the request)
"""


def register(commands: Subcommands) -> None:
    parser = add_command(
        commands, "call", _cmd_call, help=_HELP, description=_DESCRIPTION, epilog=_EPILOG
    )
    parser.add_argument("op", nargs="?", metavar="OP", help="operation base name")
    parser.add_argument("payload", nargs="?", metavar="PAYLOAD", help="request payload (JSON)")
    add_bootstrap_option(parser)
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for the reply (default: {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--service", default="kafkarpc-cli", help="the caller's service name in the envelope"
    )
    parser.add_argument(
        "--topic-prefix",
        metavar="ENV.GROUP",
        help="name OP's topics {ENV}.{GROUP}.{topic}, as Topics(naming=TopicPrefix(ENV, GROUP))",
    )
    for role in ("requested", "completed", "failed"):
        parser.add_argument(f"--{role}", metavar="TOPIC", help=f"explicit {role} topic")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log the client's activity to stderr"
    )


def _prefix(text: str | None) -> TopicPrefix | None:
    """``--topic-prefix ENV.GROUP`` as the naming it stands for."""
    if text is None:
        return None
    environment, dot, group = text.partition(".")
    if not dot:
        raise CliError(f"--topic-prefix takes ENV.GROUP, got {text!r}")
    return TopicPrefix(environment, group)


def _call_target(args: argparse.Namespace) -> tuple[str | TopicTrio, str | None]:
    """The operation and the raw payload argument, from OP or the explicit topic names."""
    explicit = [args.requested, args.completed, args.failed]
    if not any(explicit):
        if args.op is None:
            raise CliError("give OP, or --requested, --completed and --failed")
        try:
            # A bad name is a usage error, found before connecting (a failed
            # connection would otherwise be reported first).
            return TopicTrio.from_base(args.op, naming=_prefix(args.topic_prefix)), args.payload
        except ConfigurationError as exc:
            raise CliError(str(exc)) from exc
    if not all(explicit):
        raise CliError("--requested, --completed and --failed go together; give all three")
    if args.payload is not None:
        raise CliError("give either OP or the explicit topic names, not both")
    try:
        trio = TopicTrio(requested=args.requested, completed=args.completed, failed=args.failed)
    except ConfigurationError as exc:
        raise CliError(str(exc)) from exc
    # With explicit topics, the one positional argument is the payload.
    return trio, args.op


def _parse_payload(raw: str | None) -> dict[str, Any]:
    text = sys.stdin.read() if raw == "-" else (raw or "{}")
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"PAYLOAD is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise CliError(f"PAYLOAD must be a JSON object, got {type(payload).__name__}")
    return payload


def _failure_json(exc: RemoteError) -> str:
    return json.dumps(
        {
            "error_code": exc.error_code,
            "error_message": exc.error_message,
            "error_type": exc.error_type,
            "retryable": exc.retryable,
            "details": exc.details,
            "correlation_id": exc.correlation_id,
        }
    )


async def _request_once(
    bootstrap: str, service: str, timeout: float, op: str | TopicTrio, payload: dict[str, Any]
) -> dict[str, Any]:
    async with RpcClient(bootstrap, service=service, timeout=timeout) as client:
        return await client.request(op, payload)


def _cmd_call(args: argparse.Namespace) -> int:
    # Quiet by default: while a broker is unreachable librdkafka logs every reconnect,
    # and the one-line error below already says what failed.
    configure_logging("debug" if args.verbose else "critical")
    bootstrap = require_bootstrap(args)
    if not args.timeout > 0:
        raise CliError(f"--timeout must be > 0, got {args.timeout:g}")
    op, raw_payload = _call_target(args)
    payload = _parse_payload(raw_payload)
    try:
        reply = anyio.run(_request_once, bootstrap, args.service, args.timeout, op, payload)
    except RemoteError as exc:
        print(_failure_json(exc), file=sys.stderr)
        return EXIT_FAILURE
    except RequestTimeout as exc:
        raise CliError(str(exc), EXIT_TIMEOUT) from exc
    except ConfigurationError as exc:
        raise CliError(str(exc)) from exc
    except KafkaRpcError as exc:
        raise CliError(str(exc), EXIT_UNDELIVERED) from exc
    print(json.dumps(reply))
    return EXIT_OK
