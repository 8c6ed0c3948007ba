"""The public surface of ``kafkarpc``: names, exception tree, typing marker."""

from __future__ import annotations

import importlib
import importlib.resources

import pytest

import kafkarpc
from kafkarpc import (
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

EXPECTED_PUBLIC_NAMES = {
    "TopicPrefix",
    "EmitResult",
    "EventCatalog",
    "EventRegistration",
    "EventTarget",
    "OnexTopic",
    "TargetResult",
    "mask_secrets",
    "onex_topic",
    "redacted_preview",
    "Responder",
    "Subscriber",
    "Topics",
    "Telemetry",
    "Limits",
    "HandlerRetry",
    "ExactlyOnce",
    "CallRetry",
    "Cause",
    "BrokerUnavailable",
    "CircuitBreaker",
    "CircuitOpenError",
    "CircuitState",
    "ClientClosed",
    "ClientStats",
    "ConfigurationError",
    "DeadLetter",
    "DlqHeader",
    "DlqReason",
    "Envelope",
    "EnvelopeError",
    "ErrorCode",
    "ErrorPayload",
    "IdempotencyStore",
    "InMemoryIdempotencyStore",
    "InvalidTopicName",
    "KafkaRpcError",
    "KafkaTransport",
    "LifecycleError",
    "MemoryBroker",
    "MemoryTransport",
    "GatherReply",
    "GatherResult",
    "Gathering",
    "Progress",
    "ReplyStream",
    "PayloadError",
    "PayloadNotSerializable",
    "PayloadTooLarge",
    "PublishError",
    "RemoteError",
    "ReplayResult",
    "RequestContext",
    "RequestError",
    "RequestTimeout",
    "ResponseValidationError",
    "RetryPolicy",
    "RpcClient",
    "RpcServer",
    "SyncClient",
    "Security",
    "ServerStats",
    "SqliteIdempotencyStore",
    "StoredReply",
    "TopicNotFound",
    "TopicTrio",
    "Transport",
    "TransportError",
    "UNSET",
    "asyncapi_json",
    "decode_envelope",
    "encode_envelope",
    "ensure_topics",
    "generate_asyncapi",
    "inspect_dlq",
    "replay_dlq",
    "responder",
    "trio_topics",
    "IncomingRequest",
    "NestJsProfile",
    "OutgoingRequest",
    "PayloadCorrelated",
    "ReplyContent",
    "SpringProfile",
    "StreamingWireProfile",
    "WireProfile",
    "WireRoute",
}

# Grouped by what went wrong; the import list above names the same classes one a line.
EXCEPTIONS: list[type[Exception]] = [
    *(ConfigurationError, InvalidTopicName, LifecycleError),  # misuse
    *(EnvelopeError, PayloadError, PayloadNotSerializable, PayloadTooLarge),  # bad data
    *(BrokerUnavailable, PublishError, TopicNotFound, TransportError),  # the broker
    *(CircuitOpenError, ClientClosed, RemoteError, RequestError, RequestTimeout),  # a call
    ResponseValidationError,
]


def test_all_is_sorted() -> None:
    assert kafkarpc.__all__ == sorted(kafkarpc.__all__)


def test_all_has_no_duplicates() -> None:
    assert len(kafkarpc.__all__) == len(set(kafkarpc.__all__))


def test_every_public_name_is_importable() -> None:
    module = importlib.import_module("kafkarpc")
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []
    namespace: dict[str, object] = {}
    exec("from kafkarpc import *", namespace)
    assert set(kafkarpc.__all__) <= set(namespace)


def test_public_names_are_pinned() -> None:
    assert set(kafkarpc.__all__) == EXPECTED_PUBLIC_NAMES


def test_public_classes_and_functions_report_the_package() -> None:
    private = [
        name
        for name in kafkarpc.__all__
        if callable(obj := getattr(kafkarpc, name)) and obj.__module__ != "kafkarpc"
    ]
    assert private == []


def test_version_is_a_string() -> None:
    assert isinstance(kafkarpc.__version__, str)
    assert kafkarpc.__version__


@pytest.mark.parametrize("exc", EXCEPTIONS, ids=lambda e: e.__name__)
def test_every_exception_derives_from_kafka_rpc_error(exc: type[Exception]) -> None:
    assert issubclass(exc, KafkaRpcError)


def test_every_exported_exception_derives_from_kafka_rpc_error() -> None:
    exported = [getattr(kafkarpc, name) for name in kafkarpc.__all__]
    exceptions = [
        obj for obj in exported if isinstance(obj, type) and issubclass(obj, BaseException)
    ]
    assert set(EXCEPTIONS) | {KafkaRpcError} == set(exceptions)
    assert all(issubclass(exc, KafkaRpcError) for exc in exceptions)


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (ConfigurationError, ValueError),
        (InvalidTopicName, ConfigurationError),
        (PayloadError, ValueError),
        (PayloadNotSerializable, PayloadError),
        (PayloadNotSerializable, TypeError),
        (PayloadTooLarge, PayloadError),
        (EnvelopeError, ValueError),
        (BrokerUnavailable, TransportError),
        (TopicNotFound, TransportError),
        (LifecycleError, RuntimeError),
        (ClientClosed, LifecycleError),
        (ClientClosed, RequestError),
        (RemoteError, RequestError),
        (RequestTimeout, RequestError),
        (PublishError, RequestError),
        (CircuitOpenError, RequestError),
        (ResponseValidationError, RequestError),
        (ResponseValidationError, ValueError),
    ],
    ids=lambda cls: cls.__name__,
)
def test_exception_tree(child: type[Exception], parent: type[Exception]) -> None:
    assert issubclass(child, parent)


def test_request_timeout_is_a_builtin_timeout_error() -> None:
    assert issubclass(RequestTimeout, TimeoutError)
    err = RequestTimeout("late", correlation_id="c-1", topic="a.b.requested.v1", elapsed=0.5)
    with pytest.raises(TimeoutError):
        raise err
    assert (err.correlation_id, err.topic, err.elapsed) == ("c-1", "a.b.requested.v1", 0.5)


def test_remote_error_carries_the_failure_payload() -> None:
    err = RemoteError(
        error_code="NOT_FOUND",
        error_message="no such order",
        error_type="KeyError",
        retryable=True,
        details={"order_id": 7},
        correlation_id="corr-9",
    )
    assert err.error_code == "NOT_FOUND"
    assert err.error_message == "no such order"
    assert err.error_type == "KeyError"
    assert err.retryable is True
    assert err.details == {"order_id": 7}
    assert err.correlation_id == "corr-9"
    assert "NOT_FOUND" in str(err)
    assert "no such order" in str(err)


def test_remote_error_details_default_to_an_empty_dict() -> None:
    err = RemoteError(error_code="X", error_message="y")
    assert err.details == {}
    assert err.retryable is False


def test_payload_too_large_carries_size_and_limit() -> None:
    err = PayloadTooLarge("too big", size=10, limit=5)
    assert (err.size, err.limit) == (10, 5)


def test_topic_not_found_names_the_topic() -> None:
    err = TopicNotFound("orders.requested.v1")
    assert err.topic == "orders.requested.v1"
    assert "orders.requested.v1" in str(err)


def test_py_typed_ships() -> None:
    marker = importlib.resources.files("kafkarpc") / "py.typed"
    assert marker.is_file()


def test_server_responders_is_a_read_only_view() -> None:
    server = kafkarpc.RpcServer(
        service="svc", transport=kafkarpc.MemoryTransport(kafkarpc.MemoryBroker())
    )
    view = server.responders
    assert dict(view) == {}

    @server.responder("billing.charge")
    async def charge(payload: dict[str, int]) -> dict[str, int]:
        return payload

    # A view, not a copy: it shows what was registered after it was taken...
    assert list(view) == ["billing.charge.requested.v1"]
    assert isinstance(view["billing.charge.requested.v1"], kafkarpc.Responder)
    # ...and it cannot be used to register or remove one.
    with pytest.raises(TypeError):
        view["other.op.requested.v1"] = view["billing.charge.requested.v1"]  # type: ignore[index]
    with pytest.raises(TypeError):
        del view["billing.charge.requested.v1"]  # type: ignore[attr-defined]
    assert list(server.responders) == ["billing.charge.requested.v1"]
