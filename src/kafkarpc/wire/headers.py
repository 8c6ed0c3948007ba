"""Kafka record headers (docs/wire.md §3): building them on send, reading them on receive.

What each header is lives in ``header_table``; the code here is derived from
that table. Headers are optional on receive: everything here degrades to
``None`` when a header is missing or malformed, because the envelope alone is a
valid message.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from .header_table import CONTENT_TYPE, HEADERS, PRIORITIES, Encoding, HeaderRole, WireHeader

if TYPE_CHECKING:
    from .envelope import Envelope, OutgoingMessage

# CONTENT_TYPE and PRIORITIES are re-exported: callers read them from here.
__all__ = [
    "CONTENT_TYPE",
    "PRIORITIES",
    "HeaderList",
    "RequestRouting",
    "build_headers",
    "header_dict",
    "parse_trace_ids",
]


HeaderList = list[tuple[str, bytes]]


def header_dict(
    raw: Sequence[tuple[str, bytes | None]] | None, *, only: frozenset[str] | None = None
) -> dict[str, str]:
    """Kafka's header list -> ``{name: str}``; undecodable values are skipped, last wins.

    With ``only``, just those names: the others are not even decoded.
    """
    out: dict[str, str] = {}
    if not raw:
        return out
    for name, value in raw:
        if value is None or (only is not None and name not in only):
            continue
        try:
            out[name] = value.decode()
        except UnicodeDecodeError:
            continue
    return out


def _int_or_none(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def parse_trace_ids(traceparent: str | None) -> tuple[str, str] | None:
    """W3C ``traceparent`` -> (trace_id, span_id), or None when absent or malformed."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    return parts[1], parts[2]


@dataclass(slots=True)  # not frozen: a frozen init pays object.__setattr__ per field
class RequestRouting:
    """The routing headers of a request, as a responder reads them.

    One field per ``ROUTING``/``TRACE`` row of ``HEADERS``, named after its header
    and in the table's order (checked at import). Build it by keyword.
    """

    reply_to: str | None = None
    reply_partition: int | None = None
    deadline_ms: int | None = None
    idempotency_key: str | None = None
    retry_count: int | None = None
    max_retries: int | None = None
    partition_key: str | None = None
    priority: str | None = None
    ttl_seconds: int | None = None
    correlation_chain: str | None = None
    #: The roles of the table rows these fields come from: routing, then trace context.
    ROLES: ClassVar[tuple[HeaderRole, ...]] = (HeaderRole.ROUTING, HeaderRole.TRACE)
    traceparent: str | None = None
    tracestate: str | None = None
    parent_span_id: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RequestRouting:
        """The routing in ``headers``; a malformed value reads as absent."""
        values: list[Any] = [None] * _ROUTING_COUNT
        for index, (name, read) in enumerate(_READERS):
            text = headers.get(name)
            if text is not None:
                values[index] = read(text)
        return cls(*values)

    @classmethod
    def from_record_headers(cls, raw: Sequence[tuple[str, bytes | None]] | None) -> RequestRouting:
        """``from_headers(header_dict(raw))`` in one pass, decoding only routing headers.

        HOT PATH: every request a responder takes reads its routing here. One pass
        over the raw list (20.2k instructions for a client's request, callgrind)
        costs less than ``header_dict`` and a lookup per field (24.5k); a unit
        test holds the two to the same results.
        """
        values: list[Any] = [None] * _ROUTING_COUNT
        if raw:
            slots = _SLOTS
            for name, value in raw:
                slot = slots.get(name)
                if slot is None or value is None:
                    continue
                try:
                    text = value.decode()
                except UnicodeDecodeError:
                    continue  # as header_dict: an undecodable repeat leaves the earlier value
                index, read = slot
                values[index] = read(text)
        return cls(*values)

    def as_headers(self) -> HeaderList:
        """The routing as record headers; unset fields are not sent."""
        return _routing_headers(self)


def _reader(row: WireHeader) -> _Read:
    if row.encoding is Encoding.DECIMAL:
        return _int_or_none
    if row.encoding is Encoding.CHOICE:
        choices = frozenset(row.choices)
        return lambda text: text if text in choices else None
    return lambda text: text or None


class _Read(Protocol):
    def __call__(self, text: str, /) -> object: ...


#: The headers a ``RequestRouting`` carries, in its field order.
_ROUTING_ROWS = tuple(h for h in HEADERS if h.role in RequestRouting.ROLES and not h.derived_from)
_ROUTING_NAMES = tuple(row.name for row in _ROUTING_ROWS)
if tuple(field.name for field in fields(RequestRouting)) != _ROUTING_NAMES:
    raise AssertionError("RequestRouting's fields must follow HEADERS' routing rows")
_ROUTING_COUNT = len(_ROUTING_NAMES)
_READERS = tuple((row.name, _reader(row)) for row in _ROUTING_ROWS)
_SLOTS = {name: (index, read) for index, (name, read) in enumerate(_READERS)}


# HOT PATH: the client builds both lists for every request, the responder the
# required one for every reply. Written out row by row from the table (as
# ``dataclasses`` writes ``__init__``), they cost what hand-written code costs:
# a request's headers 14.3k instructions (callgrind), against 26.4k for a loop
# over the table and 14.0k for the old hand-written code. test_header_table.py
# holds them to a plain reading of the table.
def _compile(name: str, body: list[str]) -> Callable[..., HeaderList]:
    source = "\n    ".join([f"def {name}(item):", *body])
    namespace: dict[str, Any] = {"parse_trace_ids": parse_trace_ids}
    exec(source, namespace)  # built from HEADERS alone, never from input
    function: Callable[..., HeaderList] = namespace[name]
    function.__doc__ = "Generated from HEADERS:\n\n" + textwrap.indent(source, "    ")
    return function


def _required_lines() -> list[str]:
    items = []
    for row in HEADERS:
        if row.role is HeaderRole.REQUIRED:
            value = f"item.{row.mirrors}.encode()" if row.mirrors else repr(row.choices[0].encode())
            items.append(f"({row.name!r}, {value}),")
    return ["return [", *items, "]"]


def _routing_lines() -> list[str]:
    lines = ["out = []"]
    for row in _ROUTING_ROWS:
        value = f"item.{row.name}"
        text = value if row.encoding is not Encoding.DECIMAL else f"str({value})"
        lines += [f"if {value} is not None:", f"    out.append(({row.name!r}, {text}.encode()))"]
        # trace_id and span_id are written right after the traceparent they come from.
        derived = [h.name for h in HEADERS if h.derived_from == row.name]
        if derived:
            if row.name != "traceparent":
                raise AssertionError(f"no rule derives headers from {row.name}")
            lines += [f"    ids = parse_trace_ids({value})", "    if ids is not None:"]
            lines += [
                f"        out.append(({d!r}, ids[{i}].encode()))" for i, d in enumerate(derived)
            ]
    return [*lines, "return out"]


#: ``envelope`` -> its ``REQUIRED`` headers.
_required_headers = _compile("required_headers", _required_lines())
#: ``RequestRouting`` -> the headers of its set fields (and the ids derived from traceparent).
_routing_headers = _compile("routing_headers", _routing_lines())


def build_headers(
    envelope: Envelope | OutgoingMessage,
    *,
    routing: RequestRouting | None = None,
    extra: Mapping[str, str | bytes] | None = None,
) -> HeaderList:
    """The required header set (docs/wire.md §3) for ``envelope``, plus routing and user
    headers.

    User headers cannot override the required ones: they describe the envelope
    and a mismatch would mislead every reader that trusts headers over the body.
    """
    headers = _required_headers(envelope)
    if routing is not None:
        headers.extend(_routing_headers(routing))
    if extra:
        reserved = {name for name, _ in headers}
        for name, value in extra.items():
            if name in reserved:
                continue
            headers.append((name, value if isinstance(value, bytes) else str(value).encode()))
    return headers
