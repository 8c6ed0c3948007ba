"""The AsyncAPI document as a whole: its top level, servers, and one operation per responder."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..wire.headers import CONTENT_TYPE
from .events import add_subscribers
from .messages import error_payload_schema
from .naming import name_operations
from .operations import add_operation
from .payloads import payload_schemas
from .refs import CORRELATION_ID, ERROR_PAYLOAD

if TYPE_CHECKING:
    from ..server.facade import RpcServer

__all__ = ["ASYNCAPI_VERSION", "asyncapi_json", "generate_asyncapi"]

ASYNCAPI_VERSION = "3.0.0"

_DEFAULT_HOST = "localhost:9092"


def generate_asyncapi(
    server: RpcServer,
    *,
    title: str | None = None,
    version: str = "1.0.0",
    bootstrap: str | None = None,
) -> dict[str, Any]:
    """An AsyncAPI 3.0.0 document (a JSON-ready dict) for ``server``'s responders and subscribers.

    ``version`` is the document's (the API's) version, not the topics' ``v1``.
    ``bootstrap`` (``"host:port,host:port"``) fills ``servers``; without it the
    host is a server variable for the reader to fill in.
    """
    # The public read-only registry, in registration order.
    operations = name_operations(server.responders.values())
    subscribers = list(server.subscribers.values())
    payloads = payload_schemas(operations, subscribers)
    document: dict[str, Any] = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": _info(server, title or server.service, version),
        "defaultContentType": CONTENT_TYPE,
        "servers": _servers(bootstrap),
        "channels": {},
        "operations": {},
        "components": {
            "schemas": {**payloads.components, ERROR_PAYLOAD: error_payload_schema()},
            "messages": {},
            "correlationIds": {CORRELATION_ID: _correlation_id()},
        },
    }
    for operation in operations:
        add_operation(document, operation, payloads, server.group_id)
    taken = {operation.name for operation in operations}
    add_subscribers(document, subscribers, payloads, server.group_id, taken)
    return document


def asyncapi_json(
    server: RpcServer,
    *,
    title: str | None = None,
    version: str = "1.0.0",
    bootstrap: str | None = None,
) -> str:
    """``generate_asyncapi`` as indented JSON text."""
    document = generate_asyncapi(server, title=title, version=version, bootstrap=bootstrap)
    return json.dumps(document, indent=2, ensure_ascii=False)


def _info(server: RpcServer, title: str, version: str) -> dict[str, Any]:
    return {
        "title": title,
        "version": version,
        "description": (
            f"Request-response RPC responders of service `{server.service}` "
            f"(consumer group `{server.group_id}`), served with kafkarpc.\n\n"
            "Each operation uses three topics: a client writes a request to the *requested* "
            "topic; a responder answers on the *completed* topic (or the topic in the "
            "request's `reply_to` header) or, on failure, on the *failed* topic. Requests "
            "that cannot be decoded, or whose handler keeps failing under a retry policy, "
            "are copied to `{requested}.dlq`. Replies carry the request's `correlation_id`. "
            "Message values are UTF-8 JSON envelopes; record headers are UTF-8 strings."
            + (_SUBSCRIBERS if server.subscribers else "")
        ),
    }


_SUBSCRIBERS = (
    "\n\nSubscribers receive events (what `RpcClient.publish` sends, or plain JSON "
    "objects from other producers) and reply to none; an event they cannot process "
    "is copied to `{topic}.dlq`."
)


def _servers(bootstrap: str | None) -> dict[str, Any]:
    """One server per bootstrap broker, or one whose host is left to the reader."""
    hosts = [h.strip() for h in (bootstrap or "").split(",") if h.strip()]
    if not hosts:
        return {
            "kafka": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": "The Kafka cluster the responders connect to.",
                "variables": {
                    "bootstrap": {
                        "default": _DEFAULT_HOST,
                        "description": "A bootstrap broker, `host:port`.",
                    }
                },
            }
        }
    names = ["kafka"] if len(hosts) == 1 else [f"kafka-{i}" for i in range(1, len(hosts) + 1)]
    return {
        name: {"host": host, "protocol": "kafka", "description": "A bootstrap broker."}
        for name, host in zip(names, hosts, strict=True)
    }


def _correlation_id() -> dict[str, str]:
    return {
        "location": "$message.header#/correlation_id",
        "description": (
            "Ties a reply to its request. Every envelope also carries it as "
            "`correlation_id` in the value, which is authoritative when headers are absent."
        ),
    }
