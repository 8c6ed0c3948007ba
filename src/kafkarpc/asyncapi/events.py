"""The channels and operations of event subscribers: receive only, never a reply.

Per subscriber: a channel for its topic (or, for a ``^`` pattern, a channel
without an address that names the pattern), the ``handle`` operation (receive
an event; no reply), and the ``deadLetter`` send operation onto ``{topic}.dlq``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._exceptions import InvalidTopicName
from ..server.subscriber import Subscriber
from ..wire.topics import dlq_topic, event_type_for_topic
from .messages import event_dead_letter_message, event_message
from .naming import component_name, unique_name
from .payloads import Payloads
from .refs import KAFKA_BINDING, ref

__all__ = ["add_subscribers"]

_PATTERN_EXTENSION = "x-kafkarpc-topic-pattern"


def add_subscribers(
    document: dict[str, Any],
    subscribers: Iterable[Subscriber],
    payloads: Payloads,
    group_id: str,
    taken: set[str],
) -> None:
    """Add each subscriber's messages, channels and operations, named apart from ``taken``."""
    for subscriber in subscribers:
        # A pattern is no readable name; its handler's name is.
        label = subscriber.name if subscriber.is_pattern else subscriber.topic
        name = unique_name(component_name(label), taken)
        taken.add(name)
        _add_subscriber(document, subscriber, name, payloads, group_id)


def _add_subscriber(
    document: dict[str, Any], subscriber: Subscriber, name: str, payloads: Payloads, group_id: str
) -> None:
    event_type = event_type_for_topic(
        subscriber.name if subscriber.is_pattern else subscriber.topic
    )
    messages = document["components"]["messages"]
    message, letter = f"{name}.event", f"{name}.dlq"
    messages[message] = event_message(name, payloads.event(subscriber), event_type)
    channel_id = _add_channel(document, subscriber, name, message, dead_letters=False)
    document["operations"][f"{name}.handle"] = {
        "action": "receive",
        "channel": ref("channels", channel_id),
        "title": f"Handle {name} events",
        "summary": f"Subscribers receive {subscriber.topic} events; nothing is replied.",
        "description": (
            f"Handled by `{_qualified(subscriber)}`, once per consumer group. An event "
            "whose payload does not validate, or whose handler keeps failing, is copied "
            f"to the dead-letter topic (operation `{name}.deadLetter`)."
        ),
        "messages": [ref("channels", channel_id, "messages", message)],
        "bindings": {
            "kafka": {
                "groupId": {"type": "string", "enum": [group_id]},
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }
    messages[letter] = event_dead_letter_message(name, event_type)
    dlq_channel = _add_channel(document, subscriber, name, letter, dead_letters=True)
    if dlq_channel:
        document["operations"][f"{name}.deadLetter"] = {
            "action": "send",
            "channel": ref("channels", dlq_channel),
            "title": f"Park an unprocessable {name} event",
            "description": (
                "An event that is not JSON, fails validation, or whose handler failed its "
                "last retry, copied byte for byte with headers naming its origin and the "
                "reason (`poison`, `invalid_payload`, `handler_exhausted`)."
            ),
            "messages": [ref("channels", dlq_channel, "messages", letter)],
        }


def _add_channel(
    document: dict[str, Any], subscriber: Subscriber, name: str, message: str, *, dead_letters: bool
) -> str:
    """Add the channel of ``subscriber``'s events (or dead letters); its id, or "" if none."""
    channel: dict[str, Any]
    if subscriber.is_pattern:
        # AsyncAPI has no address pattern: the channel's address is unknown (null),
        # and the pattern is stated for people and tools that know the extension.
        channel_id = f"{name}.dlq" if dead_letters else f"{name}.topics"
        where = f"`{{topic}}.dlq` of every topic matching `{subscriber.topic}`"
        channel = {
            "address": None,
            "description": (
                f"Dead letters: the {where}."
                if dead_letters
                else f"Every topic matching the regular expression `{subscriber.topic}`."
            ),
            _PATTERN_EXTENSION: subscriber.topic,
        }
    else:
        try:
            channel_id = dlq_topic(subscriber.topic) if dead_letters else subscriber.topic
        except InvalidTopicName:
            return ""  # a topic near Kafka's length limit has no legal DLQ name
        what = "parked for replay" if dead_letters else "for its subscriber"
        channel = {"address": channel_id, "description": f"{name} events {what}."}
    channel["messages"] = {message: ref("components", "messages", message)}
    document["channels"][channel_id] = channel
    return channel_id


def _qualified(subscriber: Subscriber) -> str:
    func = getattr(subscriber.func, "__qualname__", None) or repr(subscriber.func)
    module = getattr(subscriber.func, "__module__", None)
    return f"{module}.{func}" if module else func
