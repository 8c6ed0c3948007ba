"""The ``kafkarpc`` command line, one module per subcommand.

Each module has a ``register(subcommands)`` that adds its parser with
``handler=`` set; a new subcommand adds its ``register`` to ``_REGISTRARS``.
Handlers return the process exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .. import __version__
from . import _asyncapi, _bench, _call, _demo, _dev_broker, _dlq, _serve
from ._common import BOOTSTRAP_ENV, EXIT_INTERRUPTED, EXIT_USAGE, CliError, Subcommands
from ._serve import load_server

__all__ = ["BOOTSTRAP_ENV", "build_parser", "load_server", "main"]


_REGISTRARS: tuple[Callable[[Subcommands], None], ...] = (
    _serve.register,
    _call.register,
    _dev_broker.register,
    _demo.register,
    _dlq.register,
    _asyncapi.register,
    _bench.register,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kafkarpc", description="Request-response RPC over Apache Kafka."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in _REGISTRARS:
        register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (``kafkarpc`` passes it to sys.exit)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        # Everything after `bench` (--help included) belongs to the benchmark's parser.
        try:
            return _bench.run(argv[1:])
        except CliError as exc:
            print(f"kafkarpc bench: error: {exc}", file=sys.stderr)
            return exc.exit_code
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version or a usage error, already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except CliError as exc:
        print(f"kafkarpc {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
