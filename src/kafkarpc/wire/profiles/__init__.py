"""Wire profiles: call and serve peers that speak NestJS, Spring Kafka or payload correlation.

``resolve`` turns ``RpcClient(wire=...)``/``RpcServer(wire=...)`` into a profile:
None for kafkarpc's own wire (whose hot path stays where it is), else the profile.
"""

from __future__ import annotations

from ..._exceptions import ConfigurationError
from .base import (
    IncomingRequest,
    OutgoingRequest,
    ProfileTrio,
    ReplyContent,
    StreamingWireProfile,
    WireProfile,
    WireRoute,
)
from .nestjs import NestJsProfile
from .payload import PayloadCorrelated
from .spring import SpringProfile

__all__ = [
    "WIRE_NAMES",
    "IncomingRequest",
    "NestJsProfile",
    "OutgoingRequest",
    "PayloadCorrelated",
    "ProfileTrio",
    "ReplyContent",
    "SpringProfile",
    "StreamingWireProfile",
    "WireProfile",
    "WireRoute",
    "resolve",
]

#: The names ``wire=`` (and ``--wire``) accept.
WIRE_NAMES = ("kafkarpc", "nestjs", "spring")


def resolve(wire: str | WireProfile) -> WireProfile | None:
    """The profile ``wire`` names; None for kafkarpc's own wire."""
    if wire == "kafkarpc":
        return None
    if wire == "nestjs":
        return NestJsProfile()
    if wire == "spring":
        return SpringProfile()
    if isinstance(wire, str):
        raise ConfigurationError(
            f"wire must be one of {', '.join(map(repr, WIRE_NAMES))} or a profile, got {wire!r}"
        )
    if not isinstance(wire, WireProfile):
        raise ConfigurationError(
            f"wire must be a name or an object with the WireProfile methods, got {wire!r}"
        )
    return wire
