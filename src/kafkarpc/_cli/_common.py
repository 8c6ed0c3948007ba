"""What every subcommand shares: exit codes, the one-line error, logging setup, and
the parser pieces (registration, ``MODULE:ATTR``, ``--bootstrap``) several commands take.

Help texts are written as plain triple-quoted strings: argparse's default
formatter joins their lines and re-wraps them to the terminal's width.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeAlias

from .._exceptions import ConfigurationError, KafkaRpcError

# A string: argparse's subparsers action is only generic to type checkers.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

__all__ = [
    "BOOTSTRAP_ENV",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_UNDELIVERED",
    "EXIT_USAGE",
    "CliError",
    "Subcommands",
    "add_app_argument",
    "add_bootstrap_option",
    "add_command",
    "configure_logging",
    "library_errors",
    "require_bootstrap",
]

EXIT_OK = 0
EXIT_FAILURE = 1  # the command failed; for `call`: the reply came on the failed topic
EXIT_USAGE = 2  # argparse uses 2 for usage errors too
EXIT_TIMEOUT = 3
EXIT_UNDELIVERED = 4  # `call` could not reach the broker or publish the request
EXIT_INTERRUPTED = 130  # the shell convention for Ctrl-C

BOOTSTRAP_ENV = "KAFKARPC_BOOTSTRAP"


class CliError(Exception):
    """A failure the user can act on: printed as one line, no traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def add_command(
    commands: Subcommands,
    name: str,
    handler: Callable[[argparse.Namespace], int],
    **parser_options: Any,
) -> argparse.ArgumentParser:
    """Register subcommand ``name`` (``help=``, ``description=`` ... go to argparse);
    ``main`` calls ``handler`` with the parsed arguments."""
    parser = commands.add_parser(name, **parser_options)
    parser.set_defaults(handler=handler)
    return parser


def add_app_argument(parser: argparse.ArgumentParser) -> None:
    """The ``MODULE:ATTR`` naming the user's RpcServer (see ``_serve.load_server``)."""
    parser.add_argument("app", metavar="MODULE:ATTR", help="e.g. myservice.app:server")


def add_bootstrap_option(parser: argparse.ArgumentParser) -> None:
    """``--bootstrap`` for a command that connects, defaulting to the environment."""
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        default=os.environ.get(BOOTSTRAP_ENV),
        help=f"broker list (default: ${BOOTSTRAP_ENV})",
    )


def require_bootstrap(args: argparse.Namespace) -> str:
    """The broker list from ``add_bootstrap_option``; a usage error when neither is given."""
    if not args.bootstrap:
        raise CliError(f"give --bootstrap HOST:PORT or set ${BOOTSTRAP_ENV}")
    return str(args.bootstrap)


@contextmanager
def library_errors() -> Iterator[None]:
    """Library errors as one-line CLI errors: bad configuration is a usage error
    (exit 2), anything else the library raises means the command failed (exit 1)."""
    try:
        yield
    except ConfigurationError as exc:
        raise CliError(str(exc)) from exc
    except KafkaRpcError as exc:
        raise CliError(str(exc), EXIT_FAILURE) from exc
