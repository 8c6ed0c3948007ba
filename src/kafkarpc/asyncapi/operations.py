"""The channels and operations of one responder, added to a document.

Per responder: a channel per topic of its trio and its dead-letter topic, the
``handle`` operation (receive a request, reply on completed), and the
``fail`` and ``deadLetter`` send operations.
"""

from __future__ import annotations

from typing import Any

from .._exceptions import InvalidTopicName
from ..wire.topics import dlq_topic
from .messages import completed_message, dead_letter_message, failed_message, request_message
from .naming import Operation
from .payloads import Payloads
from .refs import KAFKA_BINDING, ref
from .streams import add_streaming

__all__ = ["add_operation"]


def add_operation(
    document: dict[str, Any], operation: Operation, payloads: Payloads, group_id: str
) -> None:
    """Add ``operation``'s messages, channels and operations to ``document``."""
    trio = operation.trio
    messages = document["components"]["messages"]
    messages[operation.message("requested")] = request_message(operation, payloads)
    messages[operation.message("completed")] = completed_message(operation, payloads)
    messages[operation.message("failed")] = failed_message(operation)
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
        "the payload is the failure payload of the wire contract (docs/wire.md §2).",
    )
    _add_dead_letters(document, operation)
    if operation.handler.streams:
        add_streaming(document, operation, payloads)


def _add_dead_letters(document: dict[str, Any], operation: Operation) -> None:
    try:
        topic = dlq_topic(operation.trio.requested)
    except InvalidTopicName:
        return  # a requested name near Kafka's length limit has no legal DLQ name
    name, message = operation.name, operation.message("dlq")
    document["components"]["messages"][message] = dead_letter_message(operation)
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
    channel["messages"][message] = ref("components", "messages", message)


def _handle_operation(operation: Operation, group_id: str) -> dict[str, Any]:
    trio, handler = operation.trio, operation.handler
    func = getattr(handler.func, "__qualname__", None) or repr(handler.func)
    module = getattr(handler.func, "__module__", None)
    return {
        "action": "receive",
        "channel": ref("channels", trio.requested),
        "title": f"Handle {operation.name}",
        "summary": f"Responders receive {trio.requested} requests and reply to each.",
        "description": (
            f"Handled by `{f'{module}.{func}' if module else func}`. Each request is handled "
            f"once per consumer group. The success reply goes to the topic in the request's "
            f"`reply_to` header, which kafkarpc clients set to `{trio.completed}` (the "
            f"default); a failure goes to `{trio.failed}` (operation `{operation.name}.fail`)."
        ),
        "messages": [ref("channels", trio.requested, "messages", operation.message("requested"))],
        # The reply names the completed channel, not an `address` runtime expression:
        # AsyncAPI 3.0 requires the channel of a reply with an address to have none,
        # and the completed topic has one. reply_to is documented on the request headers.
        "reply": {
            "channel": ref("channels", trio.completed),
            "messages": [
                ref("channels", trio.completed, "messages", operation.message("completed"))
            ],
        },
        "bindings": {
            "kafka": {
                "groupId": {"type": "string", "enum": [group_id]},
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def _send_operation(topic: str, message: str, title: str, description: str) -> dict[str, Any]:
    return {
        "action": "send",
        "channel": ref("channels", topic),
        "title": title,
        "description": description,
        "messages": [ref("channels", topic, "messages", message)],
    }
