"""``kafkarpc serve MODULE:ATTR``: run an RpcServer defined in the user's code."""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio

from ._common import (
    BOOTSTRAP_ENV,
    EXIT_OK,
    CliError,
    Subcommands,
    add_app_argument,
    add_command,
    configure_logging,
    library_errors,
)

if TYPE_CHECKING:
    from ..server.facade import RpcServer

__all__ = ["WIRE_ENV", "load_server", "register"]

#: Where ``--wire`` is handed to the user's code.
WIRE_ENV = "KAFKARPC_WIRE"

_HELP = "run an RpcServer defined in your code"
_DESCRIPTION = """
Import MODULE, take ATTR (an RpcServer, or a zero-argument callable returning one) and
serve its responders and subscribers until SIGTERM or SIGINT, then drain in-flight
requests and events and exit. The current directory is importable, like `python -m`.
"""
_EPILOG = """
exit codes: 0 stopped by SIGTERM or SIGINT after draining, 1 failed (the broker is
unreachable, a TLS handshake failed, a topic is missing), 2 bad arguments (MODULE:ATTR
not found, no responders or subscribers, invalid options)

with --workers N: N worker processes share the server's consumer group (the request
partitions are spread over them). A worker that crashes (killed by a signal, say) is
restarted with a backoff; one that exits with 1 or 2 stops them all with that code;
SIGTERM or SIGINT is forwarded once and every worker drains before the exit.
"""


def _worker_count(text: str) -> int:
    count = int(text)
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {count}")
    return count


def register(commands: Subcommands) -> None:
    parser = add_command(
        commands, "serve", _cmd_serve, help=_HELP, description=_DESCRIPTION, epilog=_EPILOG
    )
    add_app_argument(parser)
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        help=f"exported as ${BOOTSTRAP_ENV} before MODULE is imported, for your code to read",
    )
    parser.add_argument(
        "--wire",
        choices=("kafkarpc", "nestjs", "spring"),
        help=f"exported as ${WIRE_ENV} before MODULE is imported, for your code to pass as "
        "RpcServer(wire=...); the server must then speak it",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="level of the log written to stderr (default: info)",
    )
    parser.add_argument(
        "--workers",
        type=_worker_count,
        default=1,
        metavar="N",
        help="serve from N supervised processes sharing the consumer group (default: 1)",
    )


def _import_module(module_name: str) -> Any:
    # uvicorn does the same: `serve app:server` finds app.py in the current directory.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only a missing MODULE (or a parent package) is a usage error; a missing
        # dependency imported by MODULE is a bug in it and keeps its traceback.
        missing = exc.name or ""
        if module_name != missing and not module_name.startswith(f"{missing}."):
            raise
        raise CliError(f"could not import module {module_name!r}: {exc}") from exc


def _call_factory(app: str, factory: Callable[..., Any]) -> Any:
    try:
        inspect.signature(factory).bind()
    except TypeError:
        raise CliError(
            f"{app} is a callable that needs arguments; expected a factory taking none"
        ) from None
    except ValueError:  # no signature to inspect (some builtins): just try it
        pass
    server = factory()
    if inspect.iscoroutine(server):
        server.close()  # never awaited: close it so Python does not warn about it
        raise CliError(
            f"{app} is an async factory; make it a plain function returning the RpcServer"
        )
    return server


def load_server(app: str) -> RpcServer:
    """Resolve ``module:attr`` (``attr`` may be dotted) to an RpcServer."""
    from ..server.facade import RpcServer  # not at import: `kafkarpc call` needs no server

    module_name, _, attr_path = app.partition(":")
    if not module_name or not attr_path:
        raise CliError(f"expected MODULE:ATTR (e.g. myservice.app:server), got {app!r}")
    target = _import_module(module_name)
    for attr in attr_path.split("."):
        try:
            target = getattr(target, attr)
        except AttributeError:
            raise CliError(f"module {module_name!r} has no attribute {attr_path!r}") from None
    if callable(target) and not isinstance(target, RpcServer):
        target = _call_factory(app, target)
    if not isinstance(target, RpcServer):
        raise CliError(
            f"{app} is not an RpcServer or a zero-argument factory returning one "
            f"(got {type(target).__name__})"
        )
    return target


def _cmd_serve(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    if args.bootstrap:
        os.environ[BOOTSTRAP_ENV] = args.bootstrap
    if args.wire:
        os.environ[WIRE_ENV] = args.wire
    server = load_server(args.app)  # in the supervisor too: a bad MODULE:ATTR fails here, once
    if args.wire and server.wire != args.wire:
        raise CliError(
            f"{args.app} speaks the {server.wire} wire, not {args.wire}: "
            f"build it with RpcServer(..., wire=os.environ[{WIRE_ENV!r}])"
        )
    if args.workers > 1:
        from ._workers import supervise  # only the supervisor needs it

        # The workers inherit the environment, $KAFKARPC_BOOTSTRAP (and $KAFKARPC_WIRE) included.
        command = [sys.executable, "-m", "kafkarpc", "serve", args.app]
        return supervise([*command, "--log-level", args.log_level], args.workers)
    # No handlers registered is a usage error; an unreachable broker or a missing
    # topic is a failure.
    with library_errors():
        # RpcServer.run handles SIGTERM/SIGINT itself and drains before returning.
        anyio.run(server.run)
    return EXIT_OK
