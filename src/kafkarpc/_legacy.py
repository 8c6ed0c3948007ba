"""Constructor keywords of earlier releases, folded into today's option objects with a warning.

``RpcClient(max_in_flight=...)`` and friends still work: each old keyword maps to
one field of ``Limits``, ``Topics`` or ``Telemetry``. Type checkers see the old
keywords through the ``TypedDict``s below, so a misspelt one is still an error.

Every deprecation message starts with ``kafkarpc.``: a warning is attributed to
the caller's module (``stacklevel``), so filters, such as the test suite's
``error:kafkarpc\\.:DeprecationWarning``, can only tell ours apart by message.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from ._config import Limits, PayloadPreview, Telemetry, Topics

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["LegacyClientOptions", "LegacyServerOptions", "fold_legacy"]


class _LegacyCommon(TypedDict, total=False):
    version: str
    create_topics: bool
    topic_partitions: int
    tracer_provider: TracerProvider | None
    meter_provider: MeterProvider | None
    payload_preview: PayloadPreview | None


class LegacyClientOptions(_LegacyCommon, total=False):
    max_in_flight: int
    reply_partition: int | None


class LegacyServerOptions(_LegacyCommon, total=False):
    max_concurrency: int
    shutdown_timeout: float


# old keyword -> (option object, field)
_WHERE: dict[str, tuple[str, str]] = {
    "max_in_flight": ("limits", "max_in_flight"),
    "max_concurrency": ("limits", "max_concurrency"),
    "shutdown_timeout": ("limits", "shutdown_timeout"),
    "version": ("topics", "version"),
    "create_topics": ("topics", "create"),
    "topic_partitions": ("topics", "partitions"),
    "reply_partition": ("topics", "reply_partition"),
    "tracer_provider": ("telemetry", "tracer_provider"),
    "meter_provider": ("telemetry", "meter_provider"),
    "payload_preview": ("telemetry", "payload_preview"),
}


def fold_legacy(
    owner: str,
    legacy: Mapping[str, Any],
    allowed: type[Any],
    *,
    limits: Limits,
    topics: Topics,
    telemetry: Telemetry,
) -> tuple[Limits, Topics, Telemetry]:
    """Apply old keywords on top of the option objects; unknown ones are a TypeError."""
    if not legacy:
        return limits, topics, telemetry
    known = allowed.__annotations__.keys() | _LegacyCommon.__annotations__.keys()
    unknown = sorted(set(legacy) - known)
    if unknown:
        raise TypeError(f"{owner}() got an unexpected keyword argument {unknown[0]!r}")
    changes: dict[str, dict[str, Any]] = {"limits": {}, "topics": {}, "telemetry": {}}
    for name, value in legacy.items():
        group, field = _WHERE[name]
        changes[group][field] = value
    hints = ", ".join(f"{name}= -> {_WHERE[name][0]}.{_WHERE[name][1]}" for name in legacy)
    warnings.warn(
        f"kafkarpc.{owner}: these keywords are deprecated, pass option objects instead ({hints})",
        DeprecationWarning,
        stacklevel=3,
    )
    return (
        dataclasses.replace(limits, **changes["limits"]),
        dataclasses.replace(topics, **changes["topics"]),
        dataclasses.replace(telemetry, **changes["telemetry"]),
    )
