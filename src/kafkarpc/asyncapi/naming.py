"""The operations of a document: one per responder, each with a unique readable name."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..server.handler import Responder
from ..wire.topics import TopicTrio

__all__ = ["Operation", "component_name", "name_operations", "unique_name"]

_REQUESTED_ROLE = re.compile(r"^(?P<stem>.+?)[.-]requested(?P<version>\.v[0-9]+(\.[0-9]+)*)?$")
_COMPONENT_NAME = re.compile(r"[^a-zA-Z0-9.\-_]")


@dataclass(frozen=True, slots=True)
class Operation:
    """One responder and the names its entries get in the document."""

    name: str
    handler: Responder

    @property
    def trio(self) -> TopicTrio:
        return self.handler.trio

    def message(self, role: str) -> str:
        return f"{self.name}.{role}"


def name_operations(handlers: Iterable[Responder]) -> list[Operation]:
    """One operation per responder, in registration order, with distinct names."""
    taken: set[str] = set()
    operations = []
    for handler in handlers:
        name = unique_name(_operation_name(handler.trio), taken)
        taken.add(name)
        operations.append(Operation(name, handler))
    return operations


def _operation_name(trio: TopicTrio) -> str:
    """``agent.routing.requested.v1`` -> ``agent.routing.v1``; works for ``-requested`` too.

    The requested topic minus its role reads as the operation; a topic that does
    not follow the convention is used whole. Legal topic names are legal
    component names too; the substitution only guards that assumption.
    """
    match = _REQUESTED_ROLE.match(trio.requested)
    return component_name(match["stem"] + (match["version"] or "") if match else trio.requested)


def component_name(name: str) -> str:
    """``name`` with every character a component name may not have replaced by ``_``."""
    return _COMPONENT_NAME.sub("_", name)


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3`` ... whichever is not in ``taken`` yet."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    return candidate
