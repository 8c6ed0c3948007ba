"""Streamed replies on the wire (docs/wire.md §9): the item headers and the end of a stream.

A caller that takes a streamed reply sends ``stream_accept: 1`` on its request.
The responder sends each item as a reply on the success topic carrying
``stream_seq`` (its position, from 0), then an ordinary reply whose payload is
``{"stream_items": N}``: the stream is over once the caller holds items 0..N-1.
A caller that did not ask for a stream gets one reply, ``{"items": [...]}``.
A caller that stops listening early says so on ``{requested}.cancel``: an event
under the stream's ``correlation_id``, read by every responder of the operation.
"""

from __future__ import annotations

from collections.abc import Sequence

from .header_table import STREAM_ACCEPT, STREAM_SEQ
from .topics import TopicTrio, validate_topic_name

__all__ = [
    "COLLECTED_FIELD",
    "END_FIELD",
    "accepts_stream",
    "cancel_event_type",
    "cancel_topic",
    "item_header",
    "stream_position",
]

#: The payload field of the reply that ends a stream: how many items were sent.
END_FIELD = "stream_items"
#: The payload field of the one reply a caller that did not ask for a stream gets.
COLLECTED_FIELD = "items"


def accepts_stream(headers: Sequence[tuple[str, bytes | None]]) -> bool:
    """Whether a request's caller takes its reply item by item."""
    return any(name == STREAM_ACCEPT and value == b"1" for name, value in headers)


def item_header(position: int) -> tuple[str, bytes]:
    return (STREAM_SEQ, str(position).encode())


def stream_position(headers: Sequence[tuple[str, bytes | None]]) -> int | None:
    """The position of a streamed item; None for any other reply (the end of a stream)."""
    for name, value in headers:
        if name == STREAM_SEQ and value is not None:
            try:
                position = int(value)
            except ValueError:
                return None
            return position if position >= 0 else None
    return None


def cancel_topic(requested: str) -> str:
    """Where the callers of ``requested``'s streams say they stopped listening."""
    return validate_topic_name(f"{requested}.cancel")


def cancel_event_type(trio: TopicTrio) -> str:
    return f"{trio.event_prefix}_CANCEL_REQUESTED"
