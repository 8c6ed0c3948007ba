"""What a client and a server both do with their constructor arguments, done once.

Deprecated keywords are folded into the option objects (``_legacy.py``), the
transport is chosen (``transport/choose.py``), and the service name is checked:
the facades only read the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._config import Limits, Security, Telemetry, Topics
from ._legacy import fold_legacy
from .transport.base import Transport
from .transport.choose import choose_transport, require_service

__all__ = ["Setup"]


@dataclass(frozen=True, slots=True)
class Setup:
    """The settled options of one client or server."""

    service: str
    transport: Transport
    limits: Limits
    topics: Topics
    telemetry: Telemetry

    @classmethod
    def settle(
        cls,
        owner: str,
        legacy: tuple[Mapping[str, Any], type[Any]],
        connection: tuple[str | None, Transport | None, Security | None, Mapping[str, Any] | None],
        options: tuple[str, Limits | None, Topics | None, Telemetry | None],
    ) -> Setup:
        """``legacy``: the old keywords given and the ones ``owner`` accepts;
        ``connection``: bootstrap, transport, security, config; ``options``: the
        service name and the option objects as given (``None`` = defaults)."""
        given, allowed = legacy
        bootstrap, transport, security, config = connection
        service, limits, topics, telemetry = options
        limits, topics, telemetry = fold_legacy(
            owner,
            given,
            allowed,
            limits=limits or Limits(),
            topics=topics or Topics(),
            telemetry=telemetry or Telemetry(),
        )
        chosen = choose_transport(bootstrap, transport, security=security, config=config)
        role = "caller" if owner == "RpcClient" else "responder"
        return cls(require_service(service, role), chosen, limits, topics, telemetry)
