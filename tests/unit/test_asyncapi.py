"""The AsyncAPI 3.0.0 document generated for an RpcServer.

Two independent checks of validity: the official AsyncAPI 3.0.0 JSON Schema
(vendored in ``asyncapi/``, see its README), and the rules of the AsyncAPI 3.0
specification that a JSON Schema cannot express (references resolve, operations
use their channel's messages, reply channels, component names...). Then the
content: the schemas in the document accept what kafkarpc really puts on the
wire and reject what it would refuse.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID

import jsonschema
import pytest
from pydantic import BaseModel, ConfigDict, Field
from referencing import Registry
from referencing.jsonschema import DRAFT7

import kafkarpc
from kafkarpc import ErrorPayload, RequestContext, TopicTrio
from kafkarpc.asyncapi import asyncapi_json, generate_asyncapi
from kafkarpc.transport import InboundRecord
from kafkarpc.wire.dead_letter import DlqReason, dead_letter_fields, dead_letter_record
from kafkarpc.wire.envelope import make_envelope
from kafkarpc.wire.headers import RequestRouting, build_headers, header_dict

SCHEMA_FILE = Path(__file__).parent / "asyncapi" / "asyncapi-3.0.0.schema.json"
SCHEMA_SHA256 = "d4571a420e6ffb7fcc7066c95a6db1202f299a3c51daa103d0706bf30f95e626"

HYPHEN_TRIO = TopicTrio(
    requested="dev.archon-intelligence.intelligence.code-analysis-requested.v1",
    completed="dev.archon-intelligence.intelligence.code-analysis-completed.v1",
    failed="dev.archon-intelligence.intelligence.code-analysis-failed.v1",
)
ORDERS = TopicTrio.from_base("shop.orders.place")
ORDERS_OP = "shop.orders.place.v1"
HYPHEN_OP = "dev.archon-intelligence.intelligence.code-analysis.v1"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


# ---------------------------------------------------------------- the responders
class Item(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=1)


class Address(BaseModel):
    street: str
    city: str
    # A tuple is 2020-12 ``prefixItems`` in pydantic; AsyncAPI readers need draft-07.
    location: tuple[float, float] | None = None


class Pickup(BaseModel):
    kind: Literal["pickup"]
    store: str


class Delivery(BaseModel):
    kind: Literal["delivery"]
    address: Address


class Order(BaseModel):
    items: list[Item] = Field(min_length=1)
    fulfilment: Annotated[Pickup | Delivery, Field(discriminator="kind")]
    note: str | None = None


class Receipt(BaseModel):
    order_id: UUID
    items: list[Item]
    total: Decimal


def place_order(order: Order, context: RequestContext) -> Receipt:
    raise NotImplementedError


def analyse(payload: dict[str, Any]) -> dict[str, Any]:
    raise NotImplementedError


def make_server(**options: Any) -> kafkarpc.RpcServer:
    # Registration needs no broker; the server is never started.
    transport = kafkarpc.MemoryTransport(kafkarpc.MemoryBroker())
    return kafkarpc.RpcServer(transport=transport, **{"service": "shop", **options})


def shop_server() -> kafkarpc.RpcServer:
    server = make_server(group_id="shop-responders")
    server.add_responder("shop.orders.place", place_order)
    server.add_responder(HYPHEN_TRIO, analyse)
    return server


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return generate_asyncapi(shop_server(), bootstrap="kafka-1:9092,kafka-2:9092")


# ---------------------------------------------------------------- helpers
@cache
def official_validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_bytes())
    jsonschema.Draft7Validator.check_schema(schema)
    # The file bundles every definition under its own $id, so refs resolve offline.
    return jsonschema.Draft7Validator(schema)


def official_errors(document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message[:200]}"
        for error in official_validator().iter_errors(document)
    ]


def resolve(document: Any, ref: str) -> Any:
    """Follow a local ``#/a/b`` reference; KeyError when it leads nowhere."""
    if not ref.startswith("#/"):
        raise KeyError(f"not a local reference: {ref}")
    node = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def all_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from all_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from all_refs(value)


def keys_anywhere(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from keys_anywhere(value)
    elif isinstance(node, list):
        for value in node:
            yield from keys_anywhere(value)


def schema_at(document: dict[str, Any], pointer: str) -> jsonschema.Draft7Validator:
    """A validator for the schema at ``pointer`` whose ``#/components/...`` refs resolve
    against the whole document, as an AsyncAPI reader resolves them."""
    uri = "urn:kafkarpc:asyncapi"
    registry: Registry[Any] = Registry().with_resource(uri, DRAFT7.create_resource(document))
    return jsonschema.Draft7Validator({"$ref": f"{uri}#{pointer}"}, registry=registry)


def message_schema(document: dict[str, Any], message: str, part: str) -> jsonschema.Draft7Validator:
    return schema_at(document, f"/components/messages/{message}/{part}")


COMPONENT_NAME = re.compile(r"^[a-zA-Z0-9\.\-_]+$")
RUNTIME_EXPRESSION = re.compile(r"^\$message\.(header|payload)#(/(([^/~])|(~[01]))*)*$")


def spec_rule_violations(document: dict[str, Any]) -> list[str]:
    """Rules of the AsyncAPI 3.0.0 specification beyond its JSON Schema."""
    problems: list[str] = []
    if document.get("asyncapi") != "3.0.0":
        problems.append("asyncapi must be '3.0.0'")
    info = document.get("info", {})
    for field in ("title", "version"):
        if not isinstance(info.get(field), str) or not info[field]:
            problems.append(f"info.{field} is required")
    for ref in all_refs(document):
        try:
            resolve(document, ref)
        except (KeyError, IndexError, TypeError):
            problems.append(f"$ref {ref} does not resolve within the document")
    for section, entries in document.get("components", {}).items():
        problems += [
            f"components.{section} name {name!r} is not ^[a-zA-Z0-9.-_]+$"
            for name in entries
            if not COMPONENT_NAME.match(name)
        ]
    channels = document.get("channels", {})
    for channel_id, channel in channels.items():
        for name, message in channel.get("messages", {}).items():
            if not message.get("$ref", "").startswith("#/components/messages/"):
                problems.append(f"channel {channel_id} message {name} is not a component ref")
    for op_id, operation in document.get("operations", {}).items():
        problems += operation_violations(document, op_id, operation)
    for name, message in document.get("components", {}).get("messages", {}).items():
        problems += message_violations(document, name, message)
    for name, server in document.get("servers", {}).items():
        if not server.get("host") or not server.get("protocol"):
            problems.append(f"server {name} needs host and protocol")
    return problems


def channel_of(document: dict[str, Any], ref: dict[str, str]) -> tuple[str, dict[str, Any]]:
    target = ref.get("$ref", "")
    channel_id = target.removeprefix("#/channels/")
    if channel_id == target or channel_id not in document.get("channels", {}):
        raise LookupError(f"{target!r} is not a channel of the root Channels Object")
    return channel_id, document["channels"][channel_id]


def messages_within(
    document: dict[str, Any], where: str, channel_ref: dict[str, str], refs: list[dict[str, str]]
) -> list[str]:
    """Each ref must point at a message of the referenced channel (spec: a subset)."""
    try:
        channel_id, channel = channel_of(document, channel_ref)
    except LookupError as exc:
        return [f"{where}.channel: {exc}"]
    prefix = f"#/channels/{channel_id}/messages/"
    return [
        f"{where}.messages: {ref.get('$ref')} is not a message of channel {channel_id}"
        for ref in refs
        if not ref.get("$ref", "").startswith(prefix)
        or ref["$ref"].removeprefix(prefix) not in channel.get("messages", {})
    ]


def operation_violations(document: dict[str, Any], op_id: str, operation: Any) -> list[str]:
    problems = []
    if operation.get("action") not in ("send", "receive"):
        problems.append(f"operation {op_id}: action must be send or receive")
    problems += messages_within(
        document, f"operation {op_id}", operation.get("channel", {}), operation.get("messages", [])
    )
    reply = operation.get("reply")
    if reply is not None:
        where = f"operation {op_id}.reply"
        problems += messages_within(document, where, reply.get("channel", {}), reply["messages"])
        address = reply.get("address")
        if address is not None:
            if not RUNTIME_EXPRESSION.match(address.get("location", "")):
                problems.append(f"{where}.address.location is not a runtime expression")
            _, channel = channel_of(document, reply["channel"])
            if channel.get("address") is not None:
                problems.append(f"{where}: with an address, its channel's address must be null")
    return problems


def message_violations(document: dict[str, Any], name: str, message: Any) -> list[str]:
    problems = []
    for part in ("payload", "headers"):
        try:
            # AsyncAPI's Schema Object is a superset of JSON Schema draft-07.
            jsonschema.Draft7Validator.check_schema(message[part])
        except (KeyError, jsonschema.SchemaError) as exc:
            problems.append(f"message {name}.{part} is not a JSON Schema: {exc}")
    if message.get("headers", {}).get("type") != "object":
        problems.append(f"message {name}.headers must be a schema of type object")
    correlation = message.get("correlationId", {})
    if "$ref" in correlation:
        correlation = resolve(document, correlation["$ref"])
    if not RUNTIME_EXPRESSION.match(correlation.get("location", "")):
        problems.append(f"message {name}.correlationId.location is not $message.header#/...")
    return problems


# ---------------------------------------------------------------- validity
def test_vendored_schema_is_the_official_3_0_0_file() -> None:
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert json.loads(SCHEMA_FILE.read_bytes())["$id"].endswith("/3.0.0/asyncapi.json")


@pytest.mark.parametrize("bootstrap", [None, "localhost:9092", "kafka-1:9092, kafka-2:9092"])
def test_document_validates_against_the_official_schema(bootstrap: str | None) -> None:
    document = generate_asyncapi(shop_server(), bootstrap=bootstrap)
    assert official_errors(document) == []


def test_official_schema_catches_broken_documents(doc: dict[str, Any]) -> None:
    """Negative controls: the validator really checks the parts we generate."""
    broken = json.loads(json.dumps(doc))
    del broken["info"]["version"]
    broken["operations"][f"{ORDERS_OP}.handle"]["action"] = "publish"
    payload = broken["components"]["messages"][f"{ORDERS_OP}.requested"]["payload"]
    payload["discriminator"] = {"propertyName": "kind"}  # pydantic's form, not AsyncAPI's
    broken["components"]["correlationIds"]["kafkarpc.correlationId"]["location"] = "header"
    errors = official_errors(broken)
    assert len(errors) == 4, errors


def test_document_follows_the_specification_rules(doc: dict[str, Any]) -> None:
    assert spec_rule_violations(doc) == []


def test_rule_checks_catch_violations(doc: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(doc))
    handle = broken["operations"][f"{ORDERS_OP}.handle"]
    handle["messages"] = [{"$ref": f"#/channels/{ORDERS.failed}/messages/{ORDERS_OP}.failed"}]
    handle["reply"]["address"] = {"location": "$message.header#/reply_to"}
    broken["channels"][ORDERS.requested]["messages"]["x"] = {"$ref": "#/components/schemas/Item"}
    broken["components"]["messages"]["bad name!"] = {}
    broken["operations"]["dangling"] = {"action": "send", "channel": {"$ref": "#/channels/nope"}}
    problems = "\n".join(spec_rule_violations(broken))
    for expected in (
        f"is not a message of channel {ORDERS.requested}",
        "with an address, its channel's address must be null",
        "is not a component ref",
        "name 'bad name!'",
        "$ref #/channels/nope does not resolve",
        "operation dangling.channel",
    ):
        assert expected in problems


def test_asyncapi_json_is_the_same_document_indented() -> None:
    server = shop_server()
    text = asyncapi_json(server, title="Shop", version="2.1.0")
    assert json.loads(text) == generate_asyncapi(server, title="Shop", version="2.1.0")
    assert text.startswith('{\n  "asyncapi": "3.0.0"')


# ---------------------------------------------------------------- structure
def test_info_and_servers(doc: dict[str, Any]) -> None:
    assert doc["info"]["title"] == "shop"  # the service, by default
    assert doc["info"]["version"] == "1.0.0"
    assert doc["defaultContentType"] == "application/json"
    assert doc["servers"] == {
        "kafka-1": {
            "host": "kafka-1:9092",
            "protocol": "kafka",
            "description": "A bootstrap broker.",
        },
        "kafka-2": {
            "host": "kafka-2:9092",
            "protocol": "kafka",
            "description": "A bootstrap broker.",
        },
    }
    titled = generate_asyncapi(shop_server(), title="Shop API", version="3.0.1")
    assert titled["info"]["title"] == "Shop API"
    assert titled["info"]["version"] == "3.0.1"
    # Without a bootstrap the host is a variable for the reader, not an invented name.
    assert titled["servers"]["kafka"]["host"] == "{bootstrap}"
    assert "bootstrap" in titled["servers"]["kafka"]["variables"]


def test_channels_are_the_real_topics_including_the_dlq(doc: dict[str, Any]) -> None:
    topics = [
        topic
        for trio in (ORDERS, HYPHEN_TRIO)
        for topic in (trio.requested, trio.completed, trio.failed, f"{trio.requested}.dlq")
    ]
    assert list(doc["channels"]) == topics
    assert [channel["address"] for channel in doc["channels"].values()] == topics


def test_hyphen_style_trio_gets_a_readable_operation_name(doc: dict[str, Any]) -> None:
    assert f"{HYPHEN_OP}.handle" in doc["operations"]
    messages = doc["components"]["messages"]
    assert messages[f"{HYPHEN_OP}.requested"]["name"] == "CODE_ANALYSIS_REQUESTED"
    assert messages[f"{HYPHEN_OP}.completed"]["name"] == "CODE_ANALYSIS_COMPLETED"
    assert messages[f"{HYPHEN_OP}.failed"]["name"] == "CODE_ANALYSIS_FAILED"


def test_responder_receives_requests_and_replies_on_completed(doc: dict[str, Any]) -> None:
    handle = doc["operations"][f"{ORDERS_OP}.handle"]
    assert handle["action"] == "receive"
    assert handle["channel"] == {"$ref": f"#/channels/{ORDERS.requested}"}
    assert handle["messages"] == [
        {"$ref": f"#/channels/{ORDERS.requested}/messages/{ORDERS_OP}.requested"}
    ]
    assert handle["reply"] == {
        "channel": {"$ref": f"#/channels/{ORDERS.completed}"},
        "messages": [{"$ref": f"#/channels/{ORDERS.completed}/messages/{ORDERS_OP}.completed"}],
    }
    assert handle["bindings"]["kafka"]["groupId"] == {"type": "string", "enum": ["shop-responders"]}
    assert "test_asyncapi.place_order" in handle["description"]


def test_failures_and_dead_letters_are_send_operations(doc: dict[str, Any]) -> None:
    operations = doc["operations"]
    assert operations[f"{ORDERS_OP}.fail"]["action"] == "send"
    assert operations[f"{ORDERS_OP}.fail"]["channel"] == {"$ref": f"#/channels/{ORDERS.failed}"}
    dead = operations[f"{ORDERS_OP}.deadLetter"]
    assert dead["action"] == "send"
    assert dead["channel"] == {"$ref": f"#/channels/{ORDERS.requested}.dlq"}


def test_messages_carry_correlation_id_content_type_and_key(doc: dict[str, Any]) -> None:
    correlation = doc["components"]["correlationIds"]["kafkarpc.correlationId"]
    assert correlation["location"] == "$message.header#/correlation_id"
    for name, message in doc["components"]["messages"].items():
        assert message["correlationId"] == {
            "$ref": "#/components/correlationIds/kafkarpc.correlationId"
        }
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        expected = "application/octet-stream" if name.endswith(".dlq") else "application/json"
        assert message["contentType"] == expected


def test_model_definitions_are_hoisted_into_components(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    assert {"Item", "Address", "Pickup", "Delivery", "Order", "Receipt"} <= set(schemas)
    assert "kafkarpc.ErrorPayload" in schemas
    assert "$defs" not in set(keys_anywhere(doc))
    request = doc["components"]["messages"][f"{ORDERS_OP}.requested"]["payload"]
    reply = doc["components"]["messages"][f"{ORDERS_OP}.completed"]["payload"]
    assert request["properties"]["payload"] == {"$ref": "#/components/schemas/Order"}
    assert reply["properties"]["payload"] == {"$ref": "#/components/schemas/Receipt"}
    assert schemas["Order"]["properties"]["items"]["items"] == {"$ref": "#/components/schemas/Item"}


def test_payload_schemas_are_draft_07(doc: dict[str, Any]) -> None:
    keys = set(keys_anywhere(doc["components"]["schemas"]))
    assert "prefixItems" not in keys
    location = schemas_location(doc)
    assert location["items"] == [{"type": "number"}, {"type": "number"}]
    fulfilment = doc["components"]["schemas"]["Order"]["properties"]["fulfilment"]
    assert fulfilment["discriminator"] == "kind"  # AsyncAPI's form: the property name


def schemas_location(doc: dict[str, Any]) -> dict[str, Any]:
    variants = doc["components"]["schemas"]["Address"]["properties"]["location"]["anyOf"]
    return next(v for v in variants if v.get("type") == "array")


def test_dict_responder_payloads_are_any_object(doc: dict[str, Any]) -> None:
    for role in ("requested", "completed"):
        payload = doc["components"]["messages"][f"{HYPHEN_OP}.{role}"]["payload"]
        assert payload["properties"]["payload"] == {"type": "object"}


# ---------------------------------------------------------------- the schemas vs the wire
def request_envelope(payload: dict[str, Any]) -> dict[str, Any]:
    envelope = make_envelope(
        event_type=ORDERS.event_type("requested"),
        correlation_id="c-42",
        service="checkout",
        payload=payload,
    )
    return envelope.model_dump(mode="json")


def reply_envelope(role: str, payload: dict[str, Any], trio: TopicTrio = ORDERS) -> dict[str, Any]:
    envelope = make_envelope(
        event_type=trio.event_type(role),
        correlation_id="c-42",
        causation_id="4f1c2a3e-0000-4000-8000-000000000001",
        service="shop",
        payload=payload,
    )
    return envelope.model_dump(mode="json")


ORDER = Order(
    items=[Item(sku="A-1", quantity=2)],
    fulfilment=Delivery(
        kind="delivery", address=Address(street="Main 1", city="X", location=(1, 2))
    ),
).model_dump(mode="json")
RECEIPT = Receipt(
    order_id=UUID(int=7), items=[Item(sku="A-1", quantity=2)], total=Decimal("9.90")
).model_dump(mode="json")


def test_real_envelopes_validate(doc: dict[str, Any]) -> None:
    request = message_schema(doc, f"{ORDERS_OP}.requested", "payload")
    request.validate(request_envelope(ORDER))
    pickup = {
        "items": [{"sku": "B", "quantity": 1}],
        "fulfilment": {"kind": "pickup", "store": "S"},
    }
    request.validate(request_envelope(pickup))
    # What encode_envelope really sends omits the null fields.
    wire = make_envelope(
        event_type="SHOP_ORDERS_PLACE_REQUESTED", correlation_id="x", service="s", payload=ORDER
    )
    request.validate(json.loads(kafkarpc.encode_envelope(wire)))
    completed = message_schema(doc, f"{ORDERS_OP}.completed", "payload")
    completed.validate(reply_envelope("completed", RECEIPT))
    failed = message_schema(doc, f"{ORDERS_OP}.failed", "payload")
    error = ErrorPayload(error_code="VALIDATION_ERROR", error_message="bad", details={"n": 1})
    failed.validate(reply_envelope("failed", error.model_dump(mode="json")))
    # A dict responder takes and returns any object.
    analysis = message_schema(doc, f"{HYPHEN_OP}.completed", "payload")
    analysis.validate(reply_envelope("completed", {"anything": [1, 2]}, trio=HYPHEN_TRIO))


def without(data: dict[str, Any], field: str) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != field}


@pytest.mark.parametrize(
    "envelope",
    [
        pytest.param(without(request_envelope(ORDER), "correlation_id"), id="no-correlation-id"),
        pytest.param(without(request_envelope(ORDER), "payload"), id="no-payload"),
        pytest.param({**request_envelope(ORDER), "correlation_id": ""}, id="empty-correlation"),
        pytest.param(
            {**request_envelope(ORDER), "event_type": "Shop.Placed"}, id="not-an-event-type"
        ),
        pytest.param({**request_envelope(ORDER), "service": ""}, id="empty-service"),
        pytest.param(request_envelope({**ORDER, "items": []}), id="no-items"),
        pytest.param(
            request_envelope({**ORDER, "items": [{"sku": "A", "quantity": 0}]}), id="quantity-0"
        ),
        pytest.param(request_envelope({**ORDER, "items": [{"quantity": 1}]}), id="item-no-sku"),
        pytest.param(
            request_envelope({**ORDER, "fulfilment": {"kind": "drone", "store": "S"}}),
            id="unknown-variant",
        ),
        pytest.param(
            request_envelope(
                {**ORDER, "fulfilment": {"kind": "delivery", "address": {"street": "s"}}}
            ),
            id="nested-address-no-city",
        ),
        pytest.param(
            request_envelope(
                {
                    **ORDER,
                    "fulfilment": {
                        "kind": "delivery",
                        "address": {"street": "s", "city": "c", "location": [1, 2, 3]},
                    },
                }
            ),
            id="tuple-too-long",
        ),
    ],
)
def test_invalid_requests_are_rejected(doc: dict[str, Any], envelope: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        message_schema(doc, f"{ORDERS_OP}.requested", "payload").validate(envelope)


@pytest.mark.parametrize(
    ("message", "envelope"),
    [
        pytest.param(
            "completed", reply_envelope("failed", RECEIPT), id="reply-with-failure-event-type"
        ),
        pytest.param("completed", {**reply_envelope("completed", RECEIPT), "causation_id": None}),
        pytest.param("completed", reply_envelope("completed", {**RECEIPT, "total": ["lots"]})),
        pytest.param("failed", reply_envelope("failed", {"error_message": "no code"})),
        pytest.param(
            "failed",
            reply_envelope("failed", {**ErrorPayload(error_code="X").model_dump(), "retryable": 1}),
        ),
    ],
)
def test_invalid_replies_are_rejected(
    doc: dict[str, Any], message: str, envelope: dict[str, Any]
) -> None:
    with pytest.raises(jsonschema.ValidationError):
        message_schema(doc, f"{ORDERS_OP}.{message}", "payload").validate(envelope)


def test_real_headers_validate(doc: dict[str, Any]) -> None:
    request = make_envelope(
        event_type=ORDERS.event_type("requested"), correlation_id="c", service="s", payload={}
    )
    routing = RequestRouting(
        reply_to=ORDERS.completed,
        reply_partition=2,
        deadline_ms=1_900_000_000_000,
        idempotency_key="k",
        priority="high",
        traceparent=TRACEPARENT,
    )
    request_headers = header_dict(build_headers(request, routing=routing, extra={"tenant": "t"}))
    request_schema = message_schema(doc, f"{ORDERS_OP}.requested", "headers")
    request_schema.validate(request_headers)
    request_schema.validate({})  # docs/wire.md §3: headers are optional on receive
    with pytest.raises(jsonschema.ValidationError):
        request_schema.validate({**request_headers, "priority": "urgent"})

    reply = make_envelope(
        event_type=ORDERS.event_type("completed"), correlation_id="c", service="s", payload={}
    )
    reply_headers = header_dict(
        build_headers(reply, routing=RequestRouting(traceparent=TRACEPARENT))
    )
    reply_schema = message_schema(doc, f"{ORDERS_OP}.completed", "headers")
    reply_schema.validate(reply_headers)
    with pytest.raises(jsonschema.ValidationError):  # required on what the library sends
        reply_schema.validate(without(reply_headers, "correlation_id"))


def test_dead_letter_headers_validate(doc: dict[str, Any]) -> None:
    original = InboundRecord(
        topic=ORDERS.requested, partition=1, offset=7, key=b"c", value=b"{not json", headers=[]
    )
    record = dead_letter_record(original, ValueError("boom"), reason=DlqReason.POISON)
    # The document describes the values read: Spring's binary numbers as integers.
    headers = dead_letter_fields(record.headers)
    assert headers["kafka_dlt-original-partition"] == 1
    dlq_schema = message_schema(doc, f"{ORDERS_OP}.dlq", "headers")
    dlq_schema.validate(headers)
    with pytest.raises(jsonschema.ValidationError):
        dlq_schema.validate(without(headers, "kafka_dlt-original-topic"))


# ---------------------------------------------------------------- edge cases
class Opaque:
    """A type pydantic can validate (isinstance) but not describe in JSON Schema."""


class OpaqueRequest(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    thing: Opaque


def test_a_type_without_json_schema_degrades_to_any_object() -> None:
    server = make_server()

    def odd(request: OpaqueRequest) -> Receipt:
        raise NotImplementedError

    server.add_responder("shop.odd", odd)
    server.add_responder("shop.orders.place", place_order)
    document = generate_asyncapi(server)
    payload = document["components"]["messages"]["shop.odd.v1.requested"]["payload"]
    assert payload["properties"]["payload"]["type"] == "object"
    assert "JSON Schema" in payload["properties"]["payload"]["description"]
    assert "Receipt" in document["components"]["schemas"]  # the others are unaffected
    assert official_errors(document) == []
    assert spec_rule_violations(document) == []


class Shelf:
    class Item(BaseModel):  # the same name as the module's Item, a different model
        a: int


class Crate:
    class Item(BaseModel):
        b: str


def one(request: Shelf.Item) -> dict[str, Any]:
    raise NotImplementedError


def two(request: Crate.Item) -> dict[str, Any]:
    raise NotImplementedError


def test_same_named_models_of_two_responders_stay_distinct() -> None:
    server = make_server()
    server.add_responder("shop.one", one)
    server.add_responder("shop.two", two)
    server.add_responder("shop.orders.place", place_order)
    document = generate_asyncapi(server)
    assert official_errors(document) == []
    assert spec_rule_violations(document) == []
    messages = document["components"]["messages"]
    one_schema = message_schema(document, "shop.one.v1.requested", "payload")
    two_schema = message_schema(document, "shop.two.v1.requested", "payload")
    assert (
        messages["shop.one.v1.requested"]["payload"] != messages["shop.two.v1.requested"]["payload"]
    )
    one_schema.validate(request_envelope({"a": 1}))
    two_schema.validate(request_envelope({"b": "x"}))
    with pytest.raises(jsonschema.ValidationError):
        one_schema.validate(request_envelope({"b": "x"}))


def test_operations_sharing_a_reply_topic_share_its_channel() -> None:
    shared = "shop.replies.v1"
    server = make_server()
    for op in ("a", "b"):
        trio = TopicTrio(requested=f"shop.{op}.requested.v1", completed=shared, failed=f"{op}.f")
        server.add_responder(trio, analyse)
    document = generate_asyncapi(server)
    assert set(document["channels"][shared]["messages"]) == {
        "shop.a.v1.completed",
        "shop.b.v1.completed",
    }
    assert official_errors(document) == []
    assert spec_rule_violations(document) == []


def test_topics_outside_the_naming_convention_are_used_whole() -> None:
    server = make_server()
    server.add_responder(TopicTrio(requested="in", completed="out", failed="err"), analyse)
    document = generate_asyncapi(server)
    assert set(document["operations"]) == {"in.handle", "in.fail", "in.deadLetter"}
    assert list(document["channels"]) == ["in", "out", "err", "in.dlq"]
    assert spec_rule_violations(document) == []


def test_a_server_without_responders_is_an_empty_valid_document() -> None:
    document = generate_asyncapi(make_server())
    assert document["channels"] == {}
    assert document["operations"] == {}
    assert official_errors(document) == []


def test_a_requested_topic_too_long_for_a_dlq_name_has_no_dlq_channel() -> None:
    long = "x" * 247  # legal; "{long}.dlq" is over Kafka's 249 characters
    server = make_server()
    server.add_responder(TopicTrio(requested=long, completed="out", failed="err"), analyse)
    document = generate_asyncapi(server)
    assert list(document["channels"]) == [long, "out", "err"]
    assert official_errors(document) == []
    assert spec_rule_violations(document) == []


# ---------------------------------------------------------------- streaming responders
async def report(request: Item) -> AsyncIterator[kafkarpc.Progress]:
    yield kafkarpc.Progress(work_item_id=request.sku, progress_percentage=100)


def test_a_streaming_responder_documents_its_items_and_its_end() -> None:
    server = make_server()
    server.add_responder("shop.reports.build", report)
    document = generate_asyncapi(server)
    assert official_errors(document) == []
    assert spec_rule_violations(document) == []
    op = "shop.reports.build.v1"
    trio = TopicTrio.from_base("shop.reports.build")
    messages = document["components"]["messages"]
    assert "stream_accept" in messages[f"{op}.requested"]["headers"]["properties"]
    assert "stream_seq" in messages[f"{op}.item"]["headers"]["required"]
    reply = document["operations"][f"{op}.handle"]["reply"]["messages"]
    assert {"$ref": f"#/channels/{trio.completed}/messages/{op}.item"} in reply
    # The schemas accept what a streaming responder really sends, and refuse a non-item.
    step = kafkarpc.Progress(work_item_id="w", progress_percentage=40).model_dump(mode="json")
    item = message_schema(document, f"{op}.item", "payload")
    item.validate(reply_envelope("completed", step, trio=trio))
    assert not item.is_valid(reply_envelope("completed", {"progress_percentage": 500}, trio=trio))
    end = message_schema(document, f"{op}.completed", "payload")
    end.validate(reply_envelope("completed", {"stream_items": 3}, trio=trio))
    end.validate(reply_envelope("completed", {"items": [step]}, trio=trio))
    assert not end.is_valid(reply_envelope("completed", {"stream_items": "x"}, trio=trio))
    assert document["operations"][f"{op}.cancel"]["action"] == "receive"
    cancel = message_schema(document, f"{op}.cancel", "payload")
    sent = make_envelope(
        event_type="SHOP_REPORTS_BUILD_CANCEL_REQUESTED",
        correlation_id="c",
        service="ui",
        payload={},
    )
    cancel.validate(json.loads(kafkarpc.encode_envelope(sent)))


# ---------------------------------------------------------------- subscribers
class Shipped(BaseModel):
    order_id: str
    items: list[Item]


def on_shipped(event: Shipped) -> None:
    raise NotImplementedError


def on_any_order(event: dict[str, Any]) -> None:
    raise NotImplementedError


@pytest.fixture(scope="module")
def events_doc() -> dict[str, Any]:
    server = shop_server()
    server.subscribe("shop.orders.shipped", on_shipped)
    server.subscribe(r"^shop\.orders\..*", on_any_order)
    return generate_asyncapi(server)


def test_document_with_subscribers_is_valid(events_doc: dict[str, Any]) -> None:
    assert official_errors(events_doc) == []
    assert spec_rule_violations(events_doc) == []


def test_a_subscriber_only_receives_and_is_never_answered(events_doc: dict[str, Any]) -> None:
    handle = events_doc["operations"]["shop.orders.shipped.handle"]
    assert handle["action"] == "receive"
    assert "reply" not in handle
    assert handle["channel"] == {"$ref": "#/channels/shop.orders.shipped"}
    assert handle["bindings"]["kafka"]["groupId"]["enum"] == ["shop-responders"]
    # Its only other operation sends dead letters; nothing is sent in reply.
    ops = {op_id for op_id in events_doc["operations"] if op_id.startswith("shop.orders.shipped")}
    assert ops == {"shop.orders.shipped.handle", "shop.orders.shipped.deadLetter"}
    assert events_doc["channels"]["shop.orders.shipped.dlq"]["address"] == "shop.orders.shipped.dlq"


def test_a_pattern_subscription_is_a_channel_without_address_naming_the_pattern(
    events_doc: dict[str, Any],
) -> None:
    handle = events_doc["operations"]["on_any_order.handle"]
    assert handle["action"] == "receive"
    channel = events_doc["channels"]["on_any_order.topics"]
    assert channel["address"] is None
    assert channel["x-kafkarpc-topic-pattern"] == r"^shop\.orders\..*"


def test_event_messages_accept_envelopes_and_plain_json_and_reject_invalid_payloads(
    events_doc: dict[str, Any],
) -> None:
    event = message_schema(events_doc, "shop.orders.shipped.event", "payload")
    shipped = {"order_id": "o-1", "items": [{"sku": "A", "quantity": 2}]}
    published = make_envelope(
        event_type="SHOP_ORDERS_SHIPPED", correlation_id="c", service="shop", payload=shipped
    )
    event.validate(json.loads(kafkarpc.encode_envelope(published)))
    event.validate(shipped)  # from a producer that knows no envelope
    with pytest.raises(jsonschema.ValidationError):
        event.validate({"order_id": "o-1", "items": [{"sku": "A", "quantity": 0}]})
    # Item is shared with the responder's Order: one component for both.
    assert "Item" in events_doc["components"]["schemas"]
    assert "Shipped" in events_doc["components"]["schemas"]


def test_event_dead_letters_carry_the_new_reason(events_doc: dict[str, Any]) -> None:
    headers = message_schema(events_doc, "shop.orders.shipped.dlq", "headers")
    record = InboundRecord(
        topic="shop.orders.shipped",
        partition=0,
        offset=3,
        key=None,
        value=b"{}",
        headers=[],
        timestamp_ms=1,
    )
    letter = dead_letter_record(record, ValueError("bad"), reason=DlqReason.INVALID_PAYLOAD)
    headers.validate(dead_letter_fields(letter.headers))  # Spring's binary numbers as int


def test_a_subscriber_named_like_a_responder_operation_gets_a_distinct_name() -> None:
    server = make_server()
    server.add_responder(TopicTrio(requested="in", completed="out", failed="err"), analyse)
    server.subscribe("in.dlq.x", on_any_order)
    server.subscribe(r"^in", on_any_order)
    server.subscribe(r"^out", on_any_order)
    document = generate_asyncapi(server)
    handles = sorted(op for op in document["operations"] if op.endswith(".handle"))
    assert handles == [
        "in.dlq.x.handle",
        "in.handle",
        "on_any_order.handle",
        "on_any_order_2.handle",
    ]
    assert official_errors(document) == []
    assert spec_rule_violations(document) == []
