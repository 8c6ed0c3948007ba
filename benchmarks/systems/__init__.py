"""The systems under comparison. Each is a client module and a responder module.

A client module exposes ``run_client(spec: ClientSpec, link: ClientLink) -> Samples``;
a responder module exposes ``serve(spec: ResponderSpec, link: ResponderLink) -> int``
(the number of requests it answered). Both run in their own spawned process.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

__all__ = ["SYSTEMS", "SystemSpec", "unavailable_reason"]


@dataclass(frozen=True, slots=True)
class SystemSpec:
    name: str
    client_module: str
    responder_module: str
    requires: tuple[str, ...]
    """Modules that must be importable for the system to run."""
    summary: str


SYSTEMS: dict[str, SystemSpec] = {
    spec.name: spec
    for spec in (
        SystemSpec(
            "raw",
            "benchmarks.systems.raw",
            "benchmarks.systems.raw_responder",
            ("confluent_kafka",),
            "confluent-kafka request/reply loop, no framework: the floor",
        ),
        SystemSpec(
            "handrolled",
            "benchmarks.systems.handrolled",
            "benchmarks.systems.raw_responder",
            ("aiokafka",),
            "the reference documents' aiokafka futures-in-a-dict pattern",
        ),
        SystemSpec(
            "kafkarpc",
            "benchmarks.systems.kafkarpc_system",
            "benchmarks.systems.kafkarpc_system",
            ("kafkarpc.client.facade", "kafkarpc.server.facade"),
            "kafkarpc RpcClient against kafkarpc RpcServer",
        ),
        SystemSpec(
            "kafkarpc-eos",
            "benchmarks.systems.kafkarpc_system",
            "benchmarks.systems.kafkarpc_eos",
            ("kafkarpc.client.facade", "kafkarpc.server.facade"),
            "kafkarpc RpcClient against RpcServer(exactly_once=ExactlyOnce())",
        ),
    )
}


def unavailable_reason(spec: SystemSpec) -> str | None:
    """Why ``spec`` cannot run here, or None when it can."""
    for module in spec.requires:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return f"module {module!r} is not importable"
    return None
