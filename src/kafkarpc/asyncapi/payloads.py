"""The handlers' payload schemas, from pydantic, as AsyncAPI (draft-07) schemas.

Responder payload schemas come from pydantic (JSON Schema 2020-12); AsyncAPI's
Schema Object is a superset of draft-07, so they are rewritten to draft-07
where the two differ, and their ``$defs`` are hoisted into
``components/schemas`` where every message can reference them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import TypeAdapter
from pydantic.errors import PydanticUserError

from ..server.subscriber import Subscriber
from .naming import Operation
from .refs import SCHEMAS, JsonSchema

__all__ = ["Payloads", "Role", "payload_schemas"]

Role = Literal["request", "reply", "event"]

# JSON Schema keywords whose value is one schema, a list of schemas, or a map of
# name -> schema: the only places a schema can nest, so the only places to recurse.
_ONE_SCHEMA = frozenset(
    {"additionalProperties", "additionalItems", "contains", "propertyNames", "not"}
    | {"if", "then", "else", "items"}
)
_SCHEMA_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems", "items"})
_SCHEMA_MAP = frozenset({"properties", "patternProperties", "dependencies", "$defs", "definitions"})


@dataclass(frozen=True, slots=True)
class Payloads:
    """Each operation's request and reply payload schemas, and the shared definitions."""

    schemas: Mapping[tuple[str, Role], JsonSchema]
    components: dict[str, JsonSchema]

    def get(self, operation: Operation, role: Role) -> JsonSchema:
        # No adapter means the handler takes or returns a plain dict: any JSON object.
        return dict(self.schemas.get((operation.trio.requested, role), {"type": "object"}))

    def event(self, subscriber: Subscriber) -> JsonSchema:
        """A subscriber's event payload (keyed by its topic or pattern)."""
        return dict(self.schemas.get((subscriber.topic, "event"), {"type": "object"}))


_Input = tuple[tuple[str, Role], Literal["validation", "serialization"], TypeAdapter[Any]]


def payload_schemas(
    operations: Iterable[Operation], subscribers: Iterable[Subscriber] = ()
) -> Payloads:
    """All payload schemas in one pydantic pass, so a model used by several
    handlers is one component and same-named models get distinct names."""
    wanted: list[_Input] = []
    for operation in operations:
        handler, requested = operation.handler, operation.trio.requested
        if handler.payload_adapter is not None:
            wanted.append(((requested, "request"), "validation", handler.payload_adapter))
        if handler.result_adapter is not None:
            wanted.append(((requested, "reply"), "serialization", handler.result_adapter))
    for subscriber in subscribers:
        if subscriber.payload_adapter is not None:
            wanted.append(((subscriber.topic, "event"), "validation", subscriber.payload_adapter))
    inputs: list[_Input] = []
    fallbacks: dict[tuple[str, Role], JsonSchema] = {}
    for item in wanted:
        problem = _json_schema_problem(item[2], item[1])
        if problem is None:
            inputs.append(item)
        else:
            fallbacks[item[0]] = {"type": "object", "description": problem}
    if not inputs:
        return Payloads(fallbacks, {})
    mapping, definitions = TypeAdapter.json_schemas(inputs, ref_template=SCHEMAS + "{model}")
    schemas = {key: _to_draft7(schema) for (key, _mode), schema in mapping.items()}
    components = {name: _to_draft7(schema) for name, schema in definitions.get("$defs", {}).items()}
    return Payloads({**schemas, **fallbacks}, components)


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
