"""ONEX topic names: ``onex.{cmd|evt}.{owner}.{event}.v{n}`` (docs/events.md, "Topic names").

A ``cmd`` topic says "do something with this" and is named after the system that
consumes it; an ``evt`` topic says "this happened" and is named after the system
that produced it. The same event may go to both (a fan-out, see ``catalog``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .._exceptions import InvalidTopicName
from ..wire.topics import validate_topic_name

__all__ = ["OnexTopic", "is_onex_topic", "onex_topic"]

OnexKind = Literal["cmd", "evt"]
_SEGMENT = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_ONEX = re.compile(rf"^onex\.(cmd|evt)\.({_SEGMENT})\.({_SEGMENT})\.v([1-9][0-9]*)$")
_SEGMENT_ONLY = re.compile(rf"^{_SEGMENT}$")
#: Every topic starting with this claims the ONEX convention, and is held to it.
ONEX_PREFIX = "onex."


@dataclass(frozen=True, slots=True)
class OnexTopic:
    """The parts of an ONEX topic name; ``str()`` gives the name back."""

    kind: OnexKind
    """``cmd``: named by its consumer, restricted; ``evt``: named by its producer, broad."""
    owner: str
    """The consuming system of a ``cmd`` topic, the producing system of an ``evt`` topic."""
    event: str
    version: int

    def __post_init__(self) -> None:
        if self.kind not in ("cmd", "evt"):
            raise InvalidTopicName(f"ONEX kind must be 'cmd' or 'evt', got {self.kind!r}")
        for part, value in (("owner", self.owner), ("event", self.event)):
            if not isinstance(value, str) or not _SEGMENT_ONLY.fullmatch(value):
                raise InvalidTopicName(
                    f"ONEX {part} must be lower-case words joined by '-', got {value!r}"
                )
        if isinstance(self.version, bool) or not isinstance(self.version, int):
            raise InvalidTopicName(f"ONEX version must be an int >= 1, got {self.version!r}")
        if self.version < 1:
            raise InvalidTopicName(f"ONEX version must be >= 1, got {self.version}")
        validate_topic_name(str(self))

    def __str__(self) -> str:
        return f"onex.{self.kind}.{self.owner}.{self.event}.v{self.version}"

    @classmethod
    def parse(cls, name: str) -> OnexTopic:
        """The parts of ``name``, or InvalidTopicName saying what the convention wants."""
        match = _ONEX.fullmatch(name) if isinstance(name, str) else None
        if match is None:
            raise InvalidTopicName(
                f"{name!r} is not an ONEX topic name: expected onex.{{cmd|evt}}.{{owner}}."
                "{event}.v{n}, lower-case words joined by '-' (e.g. "
                "onex.evt.omniclaude.prompt-submitted.v1)"
            )
        kind, owner, event, version = match.groups()
        return cls("cmd" if kind == "cmd" else "evt", owner, event, int(version))


def onex_topic(kind: OnexKind, owner: str, event: str, version: int = 1) -> str:
    """``onex.{kind}.{owner}.{event}.v{version}``, checked; e.g.
    ``onex_topic("cmd", "omniintelligence", "session-outcome")``."""
    return str(OnexTopic(kind, owner, event, version))


def is_onex_topic(name: str) -> bool:
    """Whether ``name`` claims the ONEX convention (starts with ``onex.``)."""
    return name.startswith(ONEX_PREFIX)
