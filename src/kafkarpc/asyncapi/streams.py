"""What a streaming responder adds to its operation: the item message and the stream's end.

A streaming responder (an async generator, docs/wire.md §9) answers on its
completed topic with one ``item`` message per yielded item, carrying
``stream_seq``, then the ordinary ``completed`` message, whose payload ends the
stream (``{"stream_items": N}``), or carries every item at once
(``{"items": [...]}``) for a caller that did not send ``stream_accept``. A caller
that stops listening early sends a ``cancel`` message on ``{requested}.cancel``,
which the responders receive.
"""

from __future__ import annotations

import copy
from typing import Any

from ..wire.header_table import HEADERS, STREAM_ACCEPT, STREAM_SEQ
from ..wire.streams import COLLECTED_FIELD, END_FIELD, cancel_event_type, cancel_topic
from .naming import Operation
from .payloads import Payloads
from .refs import UNSIGNED, JsonSchema, ref

__all__ = ["add_streaming"]

_MEANING = {row.name: row.meaning for row in HEADERS}


def add_streaming(document: dict[str, Any], operation: Operation, payloads: Payloads) -> None:
    """Describe ``operation``'s items and end, once its plain messages are in ``document``."""
    trio, name = operation.trio, operation.name
    messages = document["components"]["messages"]
    item_schema = payloads.get(operation, "reply")
    completed = messages[operation.message("completed")]
    item_name = operation.message("item")
    item = copy.deepcopy(completed)
    item["title"] = f"{name} streamed item"
    item["summary"] = f"One item a {name} responder yielded, in stream order."
    item["headers"]["properties"][STREAM_SEQ] = {
        "type": "string",
        "pattern": UNSIGNED,
        "description": _MEANING[STREAM_SEQ],
    }
    item["headers"]["required"].append(STREAM_SEQ)
    messages[item_name] = item
    completed["summary"] = f"Ends a {name} stream, or carries all of its items at once."
    completed["payload"]["properties"]["payload"] = _end_schema(item_schema)
    request_headers = messages[operation.message("requested")]["headers"]["properties"]
    request_headers[STREAM_ACCEPT] = {
        "type": "string",
        "enum": ["1"],
        "description": _MEANING[STREAM_ACCEPT],
    }
    channel = document["channels"][trio.completed]
    channel["messages"][item_name] = ref("components", "messages", item_name)
    handle = document["operations"][f"{name}.handle"]
    handle["description"] += (
        " The responder streams: a request with `stream_accept` is answered by one "
        f"`{item_name}` message per item, in `stream_seq` order, then the "
        f"`{operation.message('completed')}` message that ends the stream."
    )
    handle["reply"]["messages"].append(ref("channels", trio.completed, "messages", item_name))
    _add_cancel(document, operation)


def _add_cancel(document: dict[str, Any], operation: Operation) -> None:
    trio, name = operation.trio, operation.name
    messages = document["components"]["messages"]
    message_name = operation.message("cancel")
    cancel = copy.deepcopy(messages[operation.message("requested")])
    event_type = cancel_event_type(trio)
    cancel["name"] = event_type
    cancel["title"] = f"{name} stream cancel"
    cancel["summary"] = "The caller of a stream stopped listening: stop its generator."
    envelope = cancel["payload"]["properties"]
    envelope["event_type"]["examples"] = [event_type]
    envelope["correlation_id"]["description"] = "The `correlation_id` of the stream to stop."
    envelope["payload"] = {"type": "object", "description": "Empty."}
    messages[message_name] = cancel
    topic = cancel_topic(trio.requested)
    document["channels"][topic] = {
        "address": topic,
        "description": f"{name} callers that stopped listening to a stream.",
        "messages": {message_name: ref("components", "messages", message_name)},
    }
    document["operations"][f"{name}.cancel"] = {
        "action": "receive",
        "channel": ref("channels", topic),
        "title": f"Cancel a {name} stream",
        "description": (
            "Every responder reads this topic from its end, without a consumer group; the "
            "one running the stream with this `correlation_id` closes its generator."
        ),
        "messages": [ref("channels", topic, "messages", message_name)],
    }


def _end_schema(item: JsonSchema) -> JsonSchema:
    return {
        "oneOf": [
            {
                "type": "object",
                "title": "StreamEnd",
                "required": [END_FIELD],
                "properties": {
                    END_FIELD: {
                        "type": "integer",
                        "minimum": 0,
                        "description": "How many items the stream sent before this.",
                    }
                },
            },
            {
                "type": "object",
                "title": "StreamCollected",
                "required": [COLLECTED_FIELD],
                "properties": {
                    COLLECTED_FIELD: {
                        "type": "array",
                        "items": item,
                        "description": "Every item, for a caller that did not stream.",
                    }
                },
            },
        ]
    }
