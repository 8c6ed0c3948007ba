"""The ``kafkarpc`` command line: ``serve``, ``call``, ``dev-broker``, ``demo``.

Each subcommand is a ``_register_*`` function that adds its parser (with
``handler=`` set to a ``_cmd_*`` function) to the subparsers; a new subcommand
adds its registrar to ``_REGISTRARS``. Handlers return the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import anyio

from . import __version__
from ._broker import EmbeddedBroker, start_broker
from ._client import DEFAULT_TIMEOUT, RpcClient
from ._exceptions import (
    ConfigurationError,
    KafkaRpcError,
    RemoteError,
    RequestTimeout,
)
from ._server import RpcServer
from ._topics import TopicTrio

if TYPE_CHECKING:
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["BOOTSTRAP_ENV", "build_parser", "load_server", "main"]

EXIT_OK = 0
EXIT_FAILURE = 1  # for `call`: the responder answered on the failed topic
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


# ---------------------------------------------------------------------------- serve
def _register_serve(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "serve",
        help="run an RpcServer defined in your code",
        description=(
            "Import MODULE, take ATTR (an RpcServer, or a zero-argument callable returning "
            "one) and serve until SIGTERM or SIGINT, then drain in-flight requests and exit. "
            "The current directory is importable, like `python -m`."
        ),
    )
    parser.add_argument("app", metavar="MODULE:ATTR", help="e.g. myservice.app:server")
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        help=f"exported as ${BOOTSTRAP_ENV} before MODULE is imported, for your code to read",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="level of the log written to stderr (default: info)",
    )
    parser.set_defaults(handler=_cmd_serve)


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
            f"{app} is a {type(target).__name__}, not an RpcServer (or a factory of one)"
        )
    return target


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _cmd_serve(args: argparse.Namespace) -> int:
    _configure_logging(args.log_level)
    if args.bootstrap:
        os.environ[BOOTSTRAP_ENV] = args.bootstrap
    server = load_server(args.app)
    # RpcServer.run handles SIGTERM/SIGINT itself and drains before returning.
    anyio.run(server.run)
    return EXIT_OK


# ---------------------------------------------------------------------------- call
def _register_call(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "call",
        help="send one request and print the reply",
        description=(
            "Send PAYLOAD (a JSON object; '-' reads it from stdin; default {}) to OP and "
            "print the reply payload as JSON on stdout. OP is a base name such as "
            "agent.routing; for topics that do not follow {base}.requested.{version}, "
            "give --requested, --completed and --failed instead of OP."
        ),
        epilog=(
            "exit codes: 0 reply printed, 1 failure reply (its payload is printed as JSON on "
            "stderr), 2 bad arguments, 3 no reply within --timeout, 4 request not delivered"
        ),
    )
    parser.add_argument("op", nargs="?", metavar="OP", help="operation base name")
    parser.add_argument("payload", nargs="?", metavar="PAYLOAD", help="request payload (JSON)")
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        default=os.environ.get(BOOTSTRAP_ENV),
        help=f"broker list (default: ${BOOTSTRAP_ENV})",
    )
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
    for role in ("requested", "completed", "failed"):
        parser.add_argument(f"--{role}", metavar="TOPIC", help=f"explicit {role} topic")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log the client's activity to stderr"
    )
    parser.set_defaults(handler=_cmd_call)


def _call_target(args: argparse.Namespace) -> tuple[str | TopicTrio, str | None]:
    """The operation and the raw payload argument, from OP or the explicit topic names."""
    explicit = [args.requested, args.completed, args.failed]
    if not any(explicit):
        if args.op is None:
            raise CliError("give OP, or --requested, --completed and --failed")
        return args.op, args.payload
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
    bootstrap: str, op: str | TopicTrio, payload: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    async with RpcClient(bootstrap, service=args.service, timeout=args.timeout) as client:
        return await client.request(op, payload)


def _cmd_call(args: argparse.Namespace) -> int:
    # Quiet by default: while a broker is unreachable librdkafka logs every reconnect,
    # and the one-line error below already says what failed.
    _configure_logging("debug" if args.verbose else "critical")
    if not args.bootstrap:
        raise CliError(f"give --bootstrap HOST:PORT or set ${BOOTSTRAP_ENV}")
    if not args.timeout > 0:
        raise CliError(f"--timeout must be > 0, got {args.timeout:g}")
    op, raw_payload = _call_target(args)
    payload = _parse_payload(raw_payload)
    try:
        reply = anyio.run(_request_once, args.bootstrap, op, payload, args)
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


# ---------------------------------------------------------------------------- dev-broker
def _register_dev_broker(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "dev-broker",
        help="run an in-memory Kafka-compatible broker (Tansu) for development",
        description=(
            "Start the embedded Tansu broker (needs the 'broker' extra), print "
            "'bootstrap: 127.0.0.1:PORT' and run until SIGINT or SIGTERM. "
            "Everything it stores is lost when it stops."
        ),
    )
    parser.add_argument(
        "--port", type=int, default=None, help="port to listen on (default: a free one)"
    )
    parser.set_defaults(handler=_cmd_dev_broker)


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


# ---------------------------------------------------------------------------- demo
def _register_demo(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "demo",
        help="run the quick start: embedded broker, responder and client in one process",
    )
    parser.set_defaults(handler=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    try:
        run_demo()
    except KafkaRpcError as exc:
        raise CliError(str(exc), EXIT_FAILURE) from exc
    return EXIT_OK


# ---------------------------------------------------------------------------- entry point
_REGISTRARS: tuple[Callable[[Subcommands], None], ...] = (
    _register_serve,
    _register_call,
    _register_dev_broker,
    _register_demo,
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
