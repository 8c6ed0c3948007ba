"""AsyncAPI 3.0.0 documents describing an ``RpcServer``'s responders.

The document is the wire contract of SPEC.md as a machine-readable file, so a
peer in any language (or a code generator) can talk to the responders without
this library: per operation the topic trio plus the request's dead-letter
topic as channels, the JSON envelope (SPEC §2) with the handler's own payload
schema inside it, and the Kafka record headers (SPEC §3).

Responder payload schemas come from pydantic (JSON Schema 2020-12); AsyncAPI's
Schema Object is a superset of draft-07, so they are rewritten to draft-07
where the two differ, and their ``$defs`` are hoisted into
``components/schemas`` where every message can reference them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import TypeAdapter
from pydantic.errors import PydanticUserError

from ._exceptions import InvalidTopicName
from .server.facade import RpcServer
from .server.handler import Responder
from .wire.dead_letter import DlqHeader, DlqReason
from .wire.envelope import ErrorCode
from .wire.headers import CONTENT_TYPE, PRIORITIES
from .wire.topics import TopicTrio, dlq_topic

__all__ = ["ASYNCAPI_VERSION", "asyncapi_json", "generate_asyncapi"]

ASYNCAPI_VERSION = "3.0.0"

JsonSchema = dict[str, Any]
Role = Literal["request", "reply"]

_KAFKA_BINDING = "0.5.0"
_SCHEMAS = "#/components/schemas/"
# Our own component names carry a dot: pydantic turns dots in its $defs names into
# "__", so these can never collide with a handler model's name.
_ERROR_PAYLOAD = "kafkarpc.ErrorPayload"
_CORRELATION_ID = "kafkarpc.correlationId"
_DEFAULT_HOST = "localhost:9092"
_UPPER_SNAKE = r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$"
_UNSIGNED = r"^[0-9]+$"
_TRACEPARENT = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
_REQUESTED_ROLE = re.compile(r"^(?P<stem>.+?)[.-]requested(?P<version>\.v[0-9]+(\.[0-9]+)*)?$")
_COMPONENT_NAME = re.compile(r"[^a-zA-Z0-9.\-_]")

# JSON Schema keywords whose value is one schema, a list of schemas, or a map of
# name -> schema: the only places a schema can nest, so the only places to recurse.
_ONE_SCHEMA = frozenset(
    {"additionalProperties", "additionalItems", "contains", "propertyNames", "not"}
    | {"if", "then", "else", "items"}
)
_SCHEMA_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems", "items"})
_SCHEMA_MAP = frozenset({"properties", "patternProperties", "dependencies", "$defs", "definitions"})


def generate_asyncapi(
    server: RpcServer,
    *,
    title: str | None = None,
    version: str = "1.0.0",
    bootstrap: str | None = None,
) -> dict[str, Any]:
    """An AsyncAPI 3.0.0 document (a JSON-ready dict) for ``server``'s responders.

    ``version`` is the document's (the API's) version, not the topics' ``v1``.
    ``bootstrap`` (``"host:port,host:port"``) fills ``servers``; without it the
    host is a server variable for the reader to fill in.
    """
    operations = _name_operations(_responders(server))
    payloads = _payload_schemas(operations)
    document: dict[str, Any] = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": _info(server, title or server.service, version),
        "defaultContentType": CONTENT_TYPE,
        "servers": _servers(bootstrap),
        "channels": {},
        "operations": {},
        "components": {
            "schemas": {**payloads.components, _ERROR_PAYLOAD: _error_payload_schema()},
            "messages": {},
            "correlationIds": {_CORRELATION_ID: _correlation_id()},
        },
    }
    for operation in operations:
        _add_operation(document, operation, payloads, server.group_id)
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


# ---------------------------------------------------------------- naming
def _responders(server: RpcServer) -> list[Responder]:
    # RpcServer only exposes the trios publicly; the payload types live on its
    # handlers. Read them here, in registration order, until it has an accessor.
    return list(server.responders.values())


@dataclass(frozen=True, slots=True)
class _Operation:
    """One responder and the names its entries get in the document."""

    name: str
    handler: Responder

    @property
    def trio(self) -> TopicTrio:
        return self.handler.trio

    def message(self, role: str) -> str:
        return f"{self.name}.{role}"


def _name_operations(handlers: Iterable[Responder]) -> list[_Operation]:
    taken: set[str] = set()
    operations = []
    for handler in handlers:
        name = _unique(_operation_name(handler.trio), taken)
        taken.add(name)
        operations.append(_Operation(name, handler))
    return operations


def _operation_name(trio: TopicTrio) -> str:
    """``agent.routing.requested.v1`` -> ``agent.routing.v1``; works for ``-requested`` too.

    The requested topic minus its role reads as the operation; a topic that does
    not follow the convention is used whole. Legal topic names are legal
    component names too; the substitution only guards that assumption.
    """
    match = _REQUESTED_ROLE.match(trio.requested)
    name = match["stem"] + (match["version"] or "") if match else trio.requested
    return _COMPONENT_NAME.sub("_", name)


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    return candidate


def _ref(*path: str) -> dict[str, str]:
    """A Reference Object to ``#/path/...``, escaping each part as JSON Pointer requires."""
    return {"$ref": "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)}


# ---------------------------------------------------------------- document parts
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
        ),
    }


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


def _add_operation(
    document: dict[str, Any], operation: _Operation, payloads: _Payloads, group_id: str
) -> None:
    trio = operation.trio
    messages = document["components"]["messages"]
    messages[operation.message("requested")] = _request_message(operation, payloads)
    messages[operation.message("completed")] = _completed_message(operation, payloads)
    messages[operation.message("failed")] = _failed_message(operation)
    channels = document["channels"]
    name = operation.name
    _add_channel(channels, trio.requested, operation.message("requested"), f"{name} requests.")
    _add_channel(
        channels, trio.completed, operation.message("completed"), f"{name} successful replies."
    )
    _add_channel(channels, trio.failed, operation.message("failed"), f"{name} failure replies.")
    operations = document["operations"]
    operations[f"{name}.handle"] = _handle_operation(operation, group_id)
    operations[f"{name}.fail"] = _send_operation(
        trio.failed,
        operation.message("failed"),
        f"Answer a failed {name} request",
        "Sent instead of the reply when the request fails validation, its deadline has "
        "passed, or the handler raised. Carries the request's `correlation_id`; "
        "the payload is the SPEC failure payload.",
    )
    _add_dead_letters(document, operation)


def _add_dead_letters(document: dict[str, Any], operation: _Operation) -> None:
    try:
        topic = dlq_topic(operation.trio.requested)
    except InvalidTopicName:
        return  # a requested name near Kafka's length limit has no legal DLQ name
    name, message = operation.name, operation.message("dlq")
    document["components"]["messages"][message] = _dead_letter_message(operation)
    _add_channel(document["channels"], topic, message, f"{name} requests parked for replay.")
    document["operations"][f"{name}.deadLetter"] = _send_operation(
        topic,
        message,
        f"Park an unprocessable {name} request",
        "A request that is not a decodable envelope (poison pill), or whose handler "
        "failed its last retry, is copied here byte for byte with headers naming its "
        "origin and the error, for operators to inspect and replay.",
    )


def _add_channel(channels: dict[str, Any], topic: str, message: str, description: str) -> None:
    # The channel id is the topic itself: unique, readable, and the address.
    # Two operations sharing a reply topic share its channel and list both messages.
    channel = channels.setdefault(
        topic, {"address": topic, "description": description, "messages": {}}
    )
    channel["messages"][message] = _ref("components", "messages", message)


def _handle_operation(operation: _Operation, group_id: str) -> dict[str, Any]:
    trio, handler = operation.trio, operation.handler
    func = getattr(handler.func, "__qualname__", None) or repr(handler.func)
    module = getattr(handler.func, "__module__", None)
    return {
        "action": "receive",
        "channel": _ref("channels", trio.requested),
        "title": f"Handle {operation.name}",
        "summary": f"Responders receive {trio.requested} requests and reply to each.",
        "description": (
            f"Handled by `{f'{module}.{func}' if module else func}`. Each request is handled "
            f"once per consumer group. The success reply goes to the topic in the request's "
            f"`reply_to` header, which kafkarpc clients set to `{trio.completed}` (the "
            f"default); a failure goes to `{trio.failed}` (operation `{operation.name}.fail`)."
        ),
        "messages": [_ref("channels", trio.requested, "messages", operation.message("requested"))],
        # The reply names the completed channel, not an `address` runtime expression:
        # AsyncAPI 3.0 requires the channel of a reply with an address to have none,
        # and the completed topic has one. reply_to is documented on the request headers.
        "reply": {
            "channel": _ref("channels", trio.completed),
            "messages": [
                _ref("channels", trio.completed, "messages", operation.message("completed"))
            ],
        },
        "bindings": {
            "kafka": {
                "groupId": {"type": "string", "enum": [group_id]},
                "bindingVersion": _KAFKA_BINDING,
            }
        },
    }


def _send_operation(topic: str, message: str, title: str, description: str) -> dict[str, Any]:
    return {
        "action": "send",
        "channel": _ref("channels", topic),
        "title": title,
        "description": description,
        "messages": [_ref("channels", topic, "messages", message)],
    }


# ---------------------------------------------------------------- messages
def _message(
    *,
    name: str,
    title: str,
    summary: str,
    headers: JsonSchema,
    payload: JsonSchema,
    key: str,
    content_type: str = CONTENT_TYPE,
) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "summary": summary,
        "contentType": content_type,
        "headers": headers,
        "payload": payload,
        "correlationId": _ref("components", "correlationIds", _CORRELATION_ID),
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": key},
                "bindingVersion": _KAFKA_BINDING,
            }
        },
    }


_KEY = "The `correlation_id` as UTF-8, unless the caller chose a partition key."


def _request_message(operation: _Operation, payloads: _Payloads) -> dict[str, Any]:
    trio = operation.trio
    return _message(
        name=trio.event_type("requested"),
        title=f"{operation.name} request",
        summary=f"Asks a {operation.name} responder to run; answered on {trio.completed}.",
        # SPEC §3: headers are optional on receive, so a peer sending only the
        # envelope is valid; kafkarpc clients always send the standard set.
        headers=_headers_schema(
            {**_standard_headers(), **_routing_headers(trio), **_trace_headers()}, required=()
        ),
        payload=_envelope_schema(
            payloads.get(operation, "request"),
            event_type=trio.event_type("requested"),
            reply=False,
        ),
        key=_KEY,
    )


def _completed_message(operation: _Operation, payloads: _Payloads) -> dict[str, Any]:
    trio = operation.trio
    return _message(
        name=trio.event_type("completed"),
        title=f"{operation.name} reply",
        summary=f"The result of a {operation.name} request.",
        headers=_reply_headers(),
        payload=_envelope_schema(
            payloads.get(operation, "reply"), event_type=trio.event_type("completed"), reply=True
        ),
        key="The request's `correlation_id` as UTF-8.",
    )


def _failed_message(operation: _Operation) -> dict[str, Any]:
    trio = operation.trio
    return _message(
        name=trio.event_type("failed"),
        title=f"{operation.name} failure",
        summary=f"Why a {operation.name} request failed.",
        headers=_reply_headers(),
        payload=_envelope_schema(
            {"$ref": _SCHEMAS + _ERROR_PAYLOAD}, event_type=trio.event_type("failed"), reply=True
        ),
        key="The request's `correlation_id` as UTF-8.",
    )


def _dead_letter_message(operation: _Operation) -> dict[str, Any]:
    # The value is the original record's bytes, which for a poison pill need not be
    # JSON at all, so it is described, not constrained.
    return _message(
        name=f"{operation.trio.event_prefix}_DEAD_LETTER",
        title=f"{operation.name} dead letter",
        summary=f"A {operation.name} request that could not be processed.",
        headers=_headers_schema(
            {
                **_standard_headers(),
                **_routing_headers(operation.trio),
                **_trace_headers(),
                **_dlq_headers(),
            },
            required=[h.value for h in DlqHeader],
        ),
        payload={
            "description": (
                "The original request value, byte for byte: usually the request envelope, "
                "but anything at all when the reason is `poison`."
            )
        },
        key="The original request's key.",
        content_type="application/octet-stream",
    )


# ---------------------------------------------------------------- headers (SPEC §3)
def _string(description: str, **constraints: Any) -> JsonSchema:
    return {"type": "string", "description": description, **constraints}


def _headers_schema(properties: Mapping[str, JsonSchema], required: Iterable[str]) -> JsonSchema:
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(required),
        # Callers may add their own headers; they are passed to handlers untouched.
        "additionalProperties": {"type": "string"},
    }


def _standard_headers() -> dict[str, JsonSchema]:
    return {
        "content_type": _string("The value's media type.", enum=[CONTENT_TYPE]),
        "correlation_id": _string("Same as the envelope's `correlation_id`.", minLength=1),
        "message_id": _string("Same as the envelope's `event_id`.", minLength=1),
        "timestamp": _string("Same as the envelope's `timestamp` (ISO 8601 UTC)."),
        "source": _string("Same as the envelope's `service`: the sender.", minLength=1),
        "event_type": _string("Same as the envelope's `event_type`.", pattern=_UPPER_SNAKE),
        "schema_version": _string("Same as the envelope's `version`.", minLength=1),
    }


def _routing_headers(trio: TopicTrio) -> dict[str, JsonSchema]:
    return {
        "reply_to": _string(
            f"Topic the success reply is written to; `{trio.completed}` when absent.",
            minLength=1,
        ),
        "reply_partition": _string(
            "Partition of `reply_to` the reply is written to, so a client reads only its own.",
            pattern=_UNSIGNED,
        ),
        "deadline_ms": _string(
            "Absolute epoch milliseconds after which the caller no longer waits; a request "
            "picked up later is answered `DEADLINE_EXCEEDED` without running.",
            pattern=_UNSIGNED,
        ),
        "idempotency_key": _string(
            "Stable across retries of one logical call; a repeat is answered from the first "
            "result instead of running again."
        ),
        "retry_count": _string("How many times the caller has retried.", pattern=_UNSIGNED),
        "max_retries": _string("How many retries the caller allows.", pattern=_UNSIGNED),
        "partition_key": _string("The record key the caller chose instead of the correlation id."),
        "priority": _string("The caller's priority.", enum=sorted(PRIORITIES)),
        "ttl_seconds": _string("Seconds the request stays relevant.", pattern=_UNSIGNED),
    }


def _trace_headers() -> dict[str, JsonSchema]:
    return {
        "traceparent": _string("W3C trace context.", pattern=_TRACEPARENT),
        "tracestate": _string("W3C trace state."),
        "trace_id": _string("Trace id from `traceparent`.", pattern="^[0-9a-f]{32}$"),
        "span_id": _string("Span id from `traceparent`.", pattern="^[0-9a-f]{16}$"),
        "parent_span_id": _string("The parent span's id.", pattern="^[0-9a-f]{16}$"),
    }


def _reply_headers() -> JsonSchema:
    # SPEC §3: the standard set is required on everything the library sends.
    standard = _standard_headers()
    return _headers_schema({**standard, **_trace_headers()}, required=list(standard))


def _dlq_headers() -> dict[str, JsonSchema]:
    integer = r"^-?[0-9]+$"
    return {
        DlqHeader.ORIGINAL_TOPIC.value: _string(
            "The topic the request was read from or meant for."
        ),
        DlqHeader.ORIGINAL_PARTITION.value: _string(
            "Its partition; `-1` when it never reached the broker.", pattern=integer
        ),
        DlqHeader.ORIGINAL_OFFSET.value: _string(
            "Its offset; `-1` when it never reached the broker.", pattern=integer
        ),
        DlqHeader.ORIGINAL_TIMESTAMP.value: _string("Its timestamp, epoch ms.", pattern=integer),
        DlqHeader.EXCEPTION_FQCN.value: _string("The error's fully qualified class name."),
        DlqHeader.EXCEPTION_MESSAGE.value: _string("The error message (truncated)."),
        DlqHeader.EXCEPTION_STACKTRACE.value: _string("The traceback (truncated)."),
        DlqHeader.REASON.value: _string(
            "Why it was parked.", enum=[reason.value for reason in DlqReason]
        ),
        DlqHeader.RETRY_COUNT.value: _string(
            "Responder retries made before parking.", pattern=_UNSIGNED
        ),
    }


# ---------------------------------------------------------------- envelope (SPEC §2)
def _envelope_schema(payload: JsonSchema, *, event_type: str, reply: bool) -> JsonSchema:
    """The envelope around ``payload``.

    Replies are what this server sends, so their event type is fixed and their
    causation id always set. Responders accept any UPPER_SNAKE event type on a
    request, so ``event_type`` (what kafkarpc clients send) is only an example.
    """
    required = ["event_id", "event_type", "correlation_id", "timestamp", "service"]
    required += ["payload", "version"]
    if reply:
        kind: JsonSchema = {"type": "string", "const": event_type}
        causation: JsonSchema = {
            "type": "string",
            "description": "The `event_id` of the request this answers.",
        }
        required.append("causation_id")
    else:
        kind = {"type": "string", "pattern": _UPPER_SNAKE, "examples": [event_type]}
        causation = {"type": ["string", "null"], "description": "The event this one answers."}
    return {
        "type": "object",
        "required": required,
        "properties": {
            "event_id": {"type": "string", "format": "uuid", "minLength": 1},
            "event_type": {**kind, "description": "UPPER_SNAKE_CASE event type."},
            "correlation_id": {
                "type": "string",
                "minLength": 1,
                "description": "Ties a reply to its request; usually a UUID.",
            },
            "causation_id": causation,
            "timestamp": {
                "type": "string",
                "format": "date-time",
                "description": "When the message was created, ISO 8601 UTC.",
            },
            "service": {"type": "string", "minLength": 1, "description": "The sender."},
            "payload": payload,
            "version": {
                "type": "string",
                "minLength": 1,
                "default": "v1",
                "description": "Schema version of the payload.",
            },
            "metadata": {"type": ["object", "null"], "description": "Free-form."},
        },
        # SPEC §2: unknown top-level fields are preserved, not rejected.
        "additionalProperties": True,
    }


def _error_payload_schema() -> JsonSchema:
    return {
        "type": "object",
        "title": "ErrorPayload",
        "description": "The payload of a message on a failed topic.",
        "required": ["error_code", "error_message", "error_type", "retryable", "details"],
        "properties": {
            "error_code": {
                "type": "string",
                "minLength": 1,
                "description": "Machine-readable cause; peers may send codes beyond these.",
                "examples": [code.value for code in ErrorCode],
            },
            "error_message": {"type": "string", "description": "For humans."},
            "error_type": {"type": "string", "description": "The exception class, if any."},
            "retryable": {"type": "boolean", "description": "Whether a retry may succeed."},
            "details": {"type": "object", "description": "Structured extra information."},
        },
        "additionalProperties": True,
    }


# ---------------------------------------------------------------- handler payload schemas
@dataclass(frozen=True, slots=True)
class _Payloads:
    """Each operation's request and reply payload schemas, and the shared definitions."""

    schemas: Mapping[tuple[str, Role], JsonSchema]
    components: dict[str, JsonSchema]

    def get(self, operation: _Operation, role: Role) -> JsonSchema:
        # No adapter means the handler takes or returns a plain dict: any JSON object.
        return dict(self.schemas.get((operation.trio.requested, role), {"type": "object"}))


_Input = tuple[tuple[str, Role], Literal["validation", "serialization"], TypeAdapter[Any]]


def _payload_schemas(operations: Iterable[_Operation]) -> _Payloads:
    """All payload schemas in one pydantic pass, so a model used by several
    handlers is one component and same-named models get distinct names."""
    inputs: list[_Input] = []
    fallbacks: dict[tuple[str, Role], JsonSchema] = {}
    for operation in operations:
        handler, requested = operation.handler, operation.trio.requested
        wanted: list[_Input] = []
        if handler.payload_adapter is not None:
            wanted.append(((requested, "request"), "validation", handler.payload_adapter))
        if handler.result_adapter is not None:
            wanted.append(((requested, "reply"), "serialization", handler.result_adapter))
        for item in wanted:
            problem = _json_schema_problem(item[2], item[1])
            if problem is None:
                inputs.append(item)
            else:
                fallbacks[item[0]] = {"type": "object", "description": problem}
    if not inputs:
        return _Payloads(fallbacks, {})
    mapping, definitions = TypeAdapter.json_schemas(inputs, ref_template=_SCHEMAS + "{model}")
    schemas = {key: _to_draft7(schema) for (key, _mode), schema in mapping.items()}
    components = {name: _to_draft7(schema) for name, schema in definitions.get("$defs", {}).items()}
    return _Payloads({**schemas, **fallbacks}, components)


def _json_schema_problem(
    adapter: TypeAdapter[Any], mode: Literal["validation", "serialization"]
) -> str | None:
    """Why ``adapter``'s type has no JSON Schema (e.g. an arbitrary class), or None.

    One such handler must not stop the document from being generated."""
    try:
        adapter.json_schema(mode=mode)
    except PydanticUserError as exc:
        return f"Not expressible as JSON Schema: {exc.message}"
    return None


def _to_draft7(schema: Any) -> Any:
    """Rewrite the pydantic (2020-12) keywords that mean something else in draft-07.

    - ``prefixItems`` + ``items`` (tuples) become draft-07's array ``items`` +
      ``additionalItems``; left alone, draft-07 readers would see no tuple items.
    - ``discriminator`` is OpenAPI's object in pydantic, a property-name string
      in AsyncAPI; the ``oneOf`` it annotates already pins each variant down.
    """
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for keyword, value in schema.items():
        if keyword in _SCHEMA_MAP and isinstance(value, dict):
            out[keyword] = {name: _to_draft7(sub) for name, sub in value.items()}
        elif keyword in _SCHEMA_LIST and isinstance(value, list):
            out[keyword] = [_to_draft7(sub) for sub in value]
        elif keyword in _ONE_SCHEMA:
            out[keyword] = _to_draft7(value)
        else:
            out[keyword] = value
    if "prefixItems" in out:
        tail = out.pop("items", None)
        out["items"] = out.pop("prefixItems")
        if tail is not None:
            out["additionalItems"] = tail
    discriminator = out.get("discriminator")
    if isinstance(discriminator, dict):
        name = discriminator.get("propertyName")
        if isinstance(name, str):
            out["discriminator"] = name
        else:
            del out["discriminator"]
    return out
