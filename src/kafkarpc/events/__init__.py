"""Events: an application's catalog, its fan-out to several topics, ONEX topic names."""

from .catalog import EventCatalog, EventRegistration, EventTarget, PlannedCopy, Transform
from .emit import EmitResult, TargetResult
from .naming import OnexTopic, onex_topic
from .redact import mask_secrets, redacted_preview

__all__ = [
    "EmitResult",
    "EventCatalog",
    "EventRegistration",
    "EventTarget",
    "OnexTopic",
    "PlannedCopy",
    "TargetResult",
    "Transform",
    "mask_secrets",
    "onex_topic",
    "redacted_preview",
]
