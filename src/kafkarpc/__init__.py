"""kafkarpc: request-response RPC over Apache Kafka.

>>> async with RpcClient("127.0.0.1:9092", service="checkout") as client:  # doctest: +SKIP
...     reply = await client.request("billing.charge", {"cents": 1200})
"""

import importlib
import logging
from types import FunctionType
from typing import TYPE_CHECKING, Any

from ._causation import Cause
from ._config import (
    CallRetry,
    CircuitBreaker,
    ExactlyOnce,
    HandlerRetry,
    Limits,
    Security,
    Telemetry,
    Topics,
)
from ._exceptions import (
    BrokerUnavailable,
    CircuitOpenError,
    ClientClosed,
    ConfigurationError,
    EnvelopeError,
    InvalidTopicName,
    KafkaRpcError,
    LifecycleError,
    PayloadError,
    PayloadNotSerializable,
    PayloadTooLarge,
    PublishError,
    RemoteError,
    RequestError,
    RequestTimeout,
    ResponseValidationError,
    TopicNotFound,
    TransportError,
)
from ._retry import RetryPolicy
from ._sentinel import UNSET
from ._stats import ClientStats, ServerStats
from ._version import VERSION
from .client.circuit import CircuitState
from .client.facade import RpcClient
from .transport import Transport
from .wire.codes import ErrorCode
from .wire.dead_letter import DlqHeader, DlqReason
from .wire.topics import TopicPrefix, TopicTrio

if TYPE_CHECKING:
    from .admin import ensure_topics, trio_topics
    from .asyncapi import asyncapi_json, generate_asyncapi
    from .client.gather import Gathering, GatherReply, GatherResult
    from .client.stream import ReplyStream
    from .client.sync import SyncClient
    from .dlq import DeadLetter, ReplayResult, inspect_dlq, replay_dlq
    from .events import (
        EmitResult,
        EventCatalog,
        EventRegistration,
        EventTarget,
        OnexTopic,
        TargetResult,
        mask_secrets,
        onex_topic,
        redacted_preview,
    )
    from .progress import Progress
    from .server.context import RequestContext
    from .server.facade import RpcServer
    from .server.handler import Responder, responder
    from .server.idempotency import (
        IdempotencyStore,
        InMemoryIdempotencyStore,
        SqliteIdempotencyStore,
        StoredReply,
    )
    from .server.subscriber import Subscriber
    from .transport.kafka.transport import KafkaTransport
    from .transport.memory import MemoryBroker, MemoryTransport
    from .wire.failure import ErrorPayload
    from .wire.model import Envelope, decode_envelope, encode_envelope
    from .wire.profiles import (
        IncomingRequest,
        NestJsProfile,
        OutgoingRequest,
        PayloadCorrelated,
        ReplyContent,
        SpringProfile,
        StreamingWireProfile,
        WireProfile,
        WireRoute,
    )

# Imported on first use: `import kafkarpc` is paid by every program and every
# `kafkarpc call`, and most never touch all of these. The client stays eager
# (it is what most programs import kafkarpc for); the responder side, the
# operator tools, the test broker and the pydantic models (whose machinery is
# about half of what the dependencies cost to import) load when first named. Measured in
# docs/benchmarks.md, "Import time" (the AsyncAPI generator alone was 0.27 s).
_LAZY = {
    "asyncapi_json": ".asyncapi",
    "generate_asyncapi": ".asyncapi",
    "DeadLetter": ".dlq",
    "ReplayResult": ".dlq",
    "inspect_dlq": ".dlq",
    "replay_dlq": ".dlq",
    "ensure_topics": ".admin",
    "trio_topics": ".admin",
    "RpcServer": ".server.facade",
    "RequestContext": ".server.context",
    "Responder": ".server.handler",
    "responder": ".server.handler",
    "IdempotencyStore": ".server.idempotency",
    "InMemoryIdempotencyStore": ".server.idempotency",
    "SqliteIdempotencyStore": ".server.idempotency",
    "StoredReply": ".server.idempotency",
    "Subscriber": ".server.subscriber",
    "KafkaTransport": ".transport.kafka.transport",
    "MemoryBroker": ".transport.memory",
    "MemoryTransport": ".transport.memory",
    "SyncClient": ".client.sync",
    "IncomingRequest": ".wire.profiles",
    "NestJsProfile": ".wire.profiles",
    "OutgoingRequest": ".wire.profiles",
    "PayloadCorrelated": ".wire.profiles",
    "ReplyContent": ".wire.profiles",
    "SpringProfile": ".wire.profiles",
    "StreamingWireProfile": ".wire.profiles",
    "WireProfile": ".wire.profiles",
    "WireRoute": ".wire.profiles",
    "EmitResult": ".events",
    "EventCatalog": ".events",
    "EventRegistration": ".events",
    "EventTarget": ".events",
    "OnexTopic": ".events",
    "TargetResult": ".events",
    "mask_secrets": ".events",
    "onex_topic": ".events",
    "redacted_preview": ".events",
    "Gathering": ".client.gather",
    "GatherReply": ".client.gather",
    "GatherResult": ".client.gather",
    "ReplyStream": ".client.stream",
    "Envelope": ".wire.model",
    "decode_envelope": ".wire.model",
    "encode_envelope": ".wire.model",
    "ErrorPayload": ".wire.failure",
    "Progress": ".progress",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        value.__module__ = __name__
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = VERSION

# A library must not print unless the application configured logging.
logging.getLogger("kafkarpc").addHandler(logging.NullHandler())

__all__ = [
    "BrokerUnavailable",
    "CallRetry",
    "Cause",
    "CircuitBreaker",
    "CircuitOpenError",
    "CircuitState",
    "ClientClosed",
    "ClientStats",
    "ConfigurationError",
    "DeadLetter",
    "DlqHeader",
    "DlqReason",
    "EmitResult",
    "Envelope",
    "EnvelopeError",
    "ErrorCode",
    "ErrorPayload",
    "EventCatalog",
    "EventRegistration",
    "EventTarget",
    "ExactlyOnce",
    "GatherReply",
    "GatherResult",
    "Gathering",
    "HandlerRetry",
    "IdempotencyStore",
    "InMemoryIdempotencyStore",
    "IncomingRequest",
    "InvalidTopicName",
    "KafkaRpcError",
    "KafkaTransport",
    "LifecycleError",
    "Limits",
    "MemoryBroker",
    "MemoryTransport",
    "NestJsProfile",
    "OnexTopic",
    "OutgoingRequest",
    "PayloadCorrelated",
    "PayloadError",
    "PayloadNotSerializable",
    "PayloadTooLarge",
    "Progress",
    "PublishError",
    "RemoteError",
    "ReplayResult",
    "ReplyContent",
    "ReplyStream",
    "RequestContext",
    "RequestError",
    "RequestTimeout",
    "Responder",
    "ResponseValidationError",
    "RetryPolicy",
    "RpcClient",
    "RpcServer",
    "Security",
    "ServerStats",
    "SpringProfile",
    "SqliteIdempotencyStore",
    "StoredReply",
    "StreamingWireProfile",
    "Subscriber",
    "SyncClient",
    "TargetResult",
    "Telemetry",
    "TopicNotFound",
    "TopicPrefix",
    "TopicTrio",
    "Topics",
    "Transport",
    "TransportError",
    "UNSET",
    "WireProfile",
    "WireRoute",
    "asyncapi_json",
    "decode_envelope",
    "encode_envelope",
    "ensure_topics",
    "generate_asyncapi",
    "inspect_dlq",
    "mask_secrets",
    "onex_topic",
    "redacted_preview",
    "replay_dlq",
    "responder",
    "trio_topics",
]

# Public objects report the package they are imported from, not the module that
# happens to define them: tracebacks, reprs and dead-letter headers name
# ``kafkarpc.RemoteError``, never a private path.
for _name in set(__all__) - set(_LAZY):
    _obj = globals()[_name]
    if isinstance(_obj, type | FunctionType):
        _obj.__module__ = __name__
del _name, _obj
