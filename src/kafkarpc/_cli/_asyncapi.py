"""``kafkarpc asyncapi MODULE:ATTR``: the AsyncAPI 3.0 contract of a server's responders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import EXIT_OK, Subcommands, add_app_argument, add_command
from ._serve import load_server

__all__ = ["register"]

_HELP = "write the AsyncAPI 3.0 document of a server's responders and subscribers"
_DESCRIPTION = """
Import MODULE:ATTR (as `serve` does, without connecting) and write an AsyncAPI 3.0
document: the topic trio of each responder as channels, the request/reply operations,
each subscriber's topic (or pattern) and receive operation, and message schemas from
the handlers' pydantic types.
"""


def register(commands: Subcommands) -> None:
    parser = add_command(commands, "asyncapi", _cmd_asyncapi, help=_HELP, description=_DESCRIPTION)
    add_app_argument(parser)
    parser.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    parser.add_argument("--title", help="info.title (default: the server's service name)")
    parser.add_argument("--api-version", default="1.0.0", help="info.version (default: 1.0.0)")
    parser.add_argument("--bootstrap", metavar="HOST:PORT", help="broker list for `servers`")


def _cmd_asyncapi(args: argparse.Namespace) -> int:
    # Imported here, not at the top: the generator is most of `import kafkarpc`'s
    # time, and every other subcommand would pay it for nothing.
    from ..asyncapi import asyncapi_json

    server = load_server(args.app)
    document = asyncapi_json(
        server, title=args.title, version=args.api_version, bootstrap=args.bootstrap
    )
    if args.output is None:
        sys.stdout.write(document + "\n")
    else:
        args.output.write_text(document + "\n", encoding="utf-8")
    return EXIT_OK
