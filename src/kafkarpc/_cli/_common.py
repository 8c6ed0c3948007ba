"""What every subcommand shares: exit codes, the one-line error, logging setup."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TypeAlias

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
    "configure_logging",
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
