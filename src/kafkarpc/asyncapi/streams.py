"""What a streaming responder adds to its operation: the item message and the stream's end.

A streaming responder (an async generator, docs/wire.md §9) answers on its
completed topic with one ``item`` message per yielded item, carrying
``stream_seq``, then the ordinary ``completed`` message, whose payload ends the
stream (``{"stream_items": N}``), or carries every item at once
(``{"items": [...]}``) for a caller that did not send ``stream_accept``.
"""

from __future__ import annotations

import copy
from typing import Any

from ..wire.header_table import HEADERS, STREAM_ACCEPT, STREAM_SEQ
from ..wire.streams import COLLECTED_FIELD, END_FIELD
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
