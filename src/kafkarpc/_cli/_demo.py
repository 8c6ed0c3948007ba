"""``kafkarpc demo``: the quick start in one process."""

from __future__ import annotations

import argparse

from .._exceptions import KafkaRpcError
from ._common import EXIT_FAILURE, EXIT_OK, CliError, Subcommands, add_command

__all__ = ["register"]

_HELP = "run the quick start: embedded broker, responder and client in one process"


def register(commands: Subcommands) -> None:
    add_command(commands, "demo", _cmd_demo, help=_HELP)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .._demo import run_demo

    try:
        run_demo()
    except KafkaRpcError as exc:
        raise CliError(str(exc), EXIT_FAILURE) from exc
    return EXIT_OK
