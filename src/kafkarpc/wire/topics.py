"""Topic names: validation and the request/completed/failed trio (docs/wire.md §1)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .._exceptions import InvalidTopicName
from .envelope import UPPER_SNAKE

__all__ = [
    "TopicNaming",
    "TopicPrefix",
    "TopicTrio",
    "dlq_topic",
    "event_type_for_topic",
    "name_topic",
    "validate_topic_name",
]

#: The one naming hook: a topic name as kafkarpc builds it -> the name used on the
#: broker. Identity by default; ``TopicPrefix`` or any function of the caller's.
TopicNaming = Callable[[str], str]

MAX_TOPIC_LENGTH = 249
_LEGAL_TOPIC = re.compile(r"^[a-zA-Z0-9._-]+$")
_VERSION = re.compile(r"^v[0-9]+(\.[0-9]+)*$")
_ROLE_SUFFIX = re.compile(r"[.-](requested|completed|failed)$")
_EVENT_TYPE_CHARS = re.compile(r"[^A-Za-z0-9]+")


def validate_topic_name(name: str) -> str:
    """Return ``name`` if Kafka would accept it as a topic, else raise InvalidTopicName."""
    if not isinstance(name, str):
        raise InvalidTopicName(f"topic name must be a str, got {type(name).__name__}")
    if not name:
        raise InvalidTopicName("topic name is empty")
    if name in {".", ".."}:
        raise InvalidTopicName(f"topic name {name!r} is reserved by Kafka")
    if len(name) > MAX_TOPIC_LENGTH:
        raise InvalidTopicName(
            f"topic name is {len(name)} characters; Kafka allows at most {MAX_TOPIC_LENGTH}"
        )
    if not _LEGAL_TOPIC.fullmatch(name):
        bad = sorted({c for c in name if not _LEGAL_TOPIC.fullmatch(c)})
        raise InvalidTopicName(
            f"topic name {name!r} has illegal characters {bad}; Kafka allows [a-zA-Z0-9._-]"
        )
    return name


@dataclass(frozen=True, slots=True)
class TopicPrefix:
    """The naming ``{environment}.{group}.{name}``: environments (``dev``, ``prod``)
    and node groups sharing one cluster, as the ONEX event-bus adapter names them."""

    environment: str
    group: str

    def __post_init__(self) -> None:
        for part, value in (("environment", self.environment), ("group", self.group)):
            if not isinstance(value, str) or not value or "." in value:
                raise InvalidTopicName(
                    f"{part} must be a non-empty name without '.', got {value!r}"
                )
            validate_topic_name(value)

    def __call__(self, name: str) -> str:
        return f"{self.environment}.{self.group}.{name}"


def name_topic(naming: TopicNaming | None, name: str) -> str:
    """``name`` as ``naming`` gives it (itself without one), checked as a topic name."""
    if naming is None:
        return name
    named = naming(name)
    if not isinstance(named, str):
        raise InvalidTopicName(f"topic naming gave {named!r} for {name!r}, not a str")
    return validate_topic_name(named)


def dlq_topic(topic: str) -> str:
    """The dead-letter topic for ``topic``: ``{topic}.dlq``."""
    return validate_topic_name(f"{topic}.dlq")


def _event_prefix_from_stem(stem: str) -> str:
    """``agent.routing`` -> ``AGENT_ROUTING``; longer names keep their last two segments."""
    parts = [p for p in stem.split(".") if p]
    return _upper_snake(_EVENT_TYPE_CHARS.sub("_", "_".join(parts[-2:])))


def _upper_snake(name: str) -> str:
    """An UPPER_SNAKE name (docs/wire.md §2); one that would start with a digit gets ``OP_``."""
    name = re.sub("_+", "_", name.strip("_")).upper()
    if not name:
        return "RPC"
    return name if name[0].isalpha() else f"OP_{name}"


@dataclass(frozen=True, slots=True)
class TopicTrio:
    """The three topics of one remote operation, plus the event-type prefix.

    Build it from a base name (``TopicTrio.from_base("agent.routing")`` gives
    ``agent.routing.requested.v1`` ...) or from three explicit names, for systems
    that spell the role with a hyphen::

        TopicTrio(
            requested="dev.archon-intelligence.intelligence.code-analysis-requested.v1",
            completed="dev.archon-intelligence.intelligence.code-analysis-completed.v1",
            failed="dev.archon-intelligence.intelligence.code-analysis-failed.v1",
        )
    """

    requested: str
    completed: str
    failed: str
    event_prefix: str = ""

    def __post_init__(self) -> None:
        for name in (self.requested, self.completed, self.failed):
            validate_topic_name(name)
        if len({self.requested, self.completed, self.failed}) != 3:
            raise InvalidTopicName("the requested, completed and failed topics must differ")
        if not self.event_prefix:
            object.__setattr__(self, "event_prefix", _derive_prefix(self.requested))
        elif not UPPER_SNAKE.fullmatch(self.event_prefix):
            raise InvalidTopicName(
                "event_prefix must be UPPER_SNAKE_CASE (e.g. CODE_ANALYSIS), "
                f"got {self.event_prefix!r}"
            )

    @classmethod
    def from_base(
        cls,
        base: str,
        *,
        version: str = "v1",
        event_prefix: str = "",
        naming: TopicNaming | None = None,
    ) -> TopicTrio:
        """``{base}.requested.{version}``, ``{base}.completed.{version}``, ``{base}.failed...``,
        each passed through ``naming`` (``Topics(naming=...)``) when given. The event
        prefix comes from ``base``, whatever the naming adds."""
        if not isinstance(base, str) or not base.strip("."):
            raise InvalidTopicName(f"operation name must be a non-empty str, got {base!r}")
        if not _VERSION.fullmatch(version):
            raise InvalidTopicName(f"version must look like 'v1' or 'v1.2', got {version!r}")
        return cls(
            requested=name_topic(naming, f"{base}.requested.{version}"),
            completed=name_topic(naming, f"{base}.completed.{version}"),
            failed=name_topic(naming, f"{base}.failed.{version}"),
            event_prefix=event_prefix or _event_prefix_from_stem(base),
        )

    @classmethod
    def coerce(
        cls, op: str | TopicTrio, *, version: str = "v1", naming: TopicNaming | None = None
    ) -> TopicTrio:
        """A trio given as it is (its names are explicit); a base name through ``from_base``."""
        if isinstance(op, TopicTrio):
            return op
        return cls.from_base(op, version=version, naming=naming)

    @property
    def reply_topics(self) -> tuple[str, str]:
        return (self.completed, self.failed)

    @property
    def name(self) -> str:
        """A short human name for logs and metrics: the requested topic."""
        return self.requested

    def event_type(self, role: str) -> str:
        """``AGENT_ROUTING_REQUESTED`` for role ``requested`` and so on."""
        return f"{self.event_prefix}_{role.upper()}"


def _derive_prefix(requested: str) -> str:
    parts = requested.split(".")
    if len(parts) > 1 and _VERSION.fullmatch(parts[-1]):
        parts = parts[:-1]
    stem = ".".join(parts)
    hyphen_role = re.search(r"-(requested|completed|failed)$", stem)
    if hyphen_role:
        # dev.x.intelligence.code-analysis-requested -> CODE_ANALYSIS (the seeds' convention)
        last = stem[: hyphen_role.start()].split(".")[-1]
        return _upper_snake(_EVENT_TYPE_CHARS.sub("_", last))
    stem = _ROLE_SUFFIX.sub("", stem)
    return _event_prefix_from_stem(stem) or "RPC"


def event_type_for_topic(topic: str) -> str:
    """Event type for a plain topic: ``agent.routing.decided.v1`` -> ``AGENT_ROUTING_DECIDED``."""
    parts = topic.split(".")
    if len(parts) > 1 and _VERSION.fullmatch(parts[-1]):
        parts = parts[:-1]
    return _upper_snake(_EVENT_TYPE_CHARS.sub("_", "_".join(parts[-3:])))
