"""kafkarpc's RpcServer with ``exactly_once=ExactlyOnce()``, against the same RpcClient.

The cost of exactly-once responders next to the default (``kafkarpc``): the
client is ``kafkarpc_system``'s, unchanged; the responder answers in batches,
one Kafka transaction per batch and request partition (docs/failure-semantics.md).
"""

from __future__ import annotations

import asyncio

from benchmarks.protocol import ResponderLink, ResponderSpec
from benchmarks.systems.kafkarpc_system import serve_with
from kafkarpc import ExactlyOnce

__all__ = ["serve"]


def serve(spec: ResponderSpec, link: ResponderLink) -> int:
    return asyncio.run(serve_with(spec, link, exactly_once=ExactlyOnce()))
