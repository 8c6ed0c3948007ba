"""Scatter-gather: one request that every responder group of an operation answers.

Every consumer group reading an operation's request topic gets the request, so
each group answers it once (its members share the work, as for any request). The
client takes every reply under the call's correlation id, one per answering
service, until ``expect`` have arrived or the deadline passes: a gather that
runs out of time ends with what it has, flagged incomplete, and a failure reply
is one item among the others, never an exception that loses them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import anyio

from .._exceptions import (
    ConfigurationError,
    EnvelopeError,
    RemoteError,
    RequestError,
    RequestTimeout,
    ResponseValidationError,
)
from ..transport import InboundRecord
from ..wire.envelope import ErrorCode, decode_fields
from .call import Call
from .conversation import Conversation
from .replies import as_model, decode_reply

if TYPE_CHECKING:
    # Only for annotations: importing it would load pydantic's model machinery.
    from pydantic import BaseModel

__all__ = ["GatherReply", "GatherResult", "Gathering", "check_expect", "gather_replies"]

UNKNOWN_SERVICE = "?"


@dataclass(frozen=True, slots=True)
class GatherReply:
    """One group's answer to a gather: who answered, and the payload or the failure."""

    service: str
    """The answering responder's ``service`` (from its reply envelope)."""
    payload: Any = None
    """The reply payload (a dict, or a ``response_model`` instance); None for a failure."""
    error: RequestError | None = None
    """``RemoteError`` for a failure reply; ``ResponseValidationError`` for a reply
    that does not fit the ``response_model``."""

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> Any:
        """The payload, or raise the failure."""
        if self.error is not None:
            raise self.error
        return self.payload


@dataclass(frozen=True, slots=True)
class GatherResult:
    """Everything one gather received, in arrival order, and whether the set is complete."""

    replies: tuple[GatherReply, ...]
    expected: int | None
    """The ``expect`` the gather was given."""
    complete: bool
    """``expect`` replies arrived. False when the timeout ended the gather first, and
    always False without ``expect``: then nothing says how many groups there are."""

    @property
    def results(self) -> list[Any]:
        """The payloads of the successful replies."""
        return [reply.payload for reply in self.replies if reply.error is None]

    @property
    def errors(self) -> list[RequestError]:
        """The failures, beside the results."""
        return [reply.error for reply in self.replies if reply.error is not None]

    @property
    def services(self) -> list[str]:
        return [reply.service for reply in self.replies]

    def __iter__(self) -> Iterator[GatherReply]:
        return iter(self.replies)

    def __len__(self) -> int:
        return len(self.replies)


def check_expect(expect: int | None) -> int | None:
    if expect is None:
        return None
    if not isinstance(expect, int) or isinstance(expect, bool) or expect < 1:
        raise ConfigurationError(f"expect must be a whole number >= 1 or None, got {expect!r}")
    return expect


def read_reply(
    record: InboundRecord, call: Call, response_model: type[BaseModel] | None
) -> GatherReply:
    """A reply to a gather as an item: its service, and its payload or failure."""
    try:
        service = decode_fields(record.value)["service"]
    except EnvelopeError:
        service = UNKNOWN_SERVICE  # decode_reply names the problem below
    try:
        payload: Any = decode_reply(record, call)
        if response_model is not None:
            payload = as_model(payload, response_model, call)
    except (RemoteError, ResponseValidationError) as exc:
        return GatherReply(service, None, exc)
    return GatherReply(service, payload)


class GatherCollector:
    """A gather's ``OnReply``: one item per answering service, over at ``expect``.

    The record standing for the whole call (what the pipeline's outer layers count
    and trace) is the first successful reply, else the latest failure.
    """

    def __init__(
        self,
        call: Call,
        expect: int | None,
        deliver: Callable[[GatherReply], None],
        response_model: type[BaseModel] | None,
    ) -> None:
        self._call = call
        self._expect = expect
        self._deliver = deliver
        self._model = response_model
        self._services: set[str] = set()
        self._standing_ok: InboundRecord | None = None
        self._standing: InboundRecord | None = None
        self._over = False

    def __call__(self, record: InboundRecord) -> tuple[InboundRecord | None, bool]:
        if self._over:
            return self._standing, True
        reply = read_reply(record, self._call, self._model)
        error = reply.error
        if isinstance(error, RemoteError) and error.error_code == ErrorCode.DEADLINE_EXCEEDED:
            # A group that ran out of the caller's time has not answered: the gather
            # ends at its deadline without it, flagged incomplete, as if it sent nothing.
            return self._standing, False
        if reply.service in self._services:
            # One answer per group: a repeat (a redelivered request answered again)
            # is not a second group.
            return self._standing, False
        self._services.add(reply.service)
        self._deliver(reply)
        if reply.ok and self._standing_ok is None:
            self._standing_ok = record
        self._standing = self._standing_ok or record
        self._over = self._expect is not None and len(self._services) >= self._expect
        return self._standing, self._over


def gather_replies(
    send: Callable[[Call], Any],
    call: Call,
    library: str,
    *,
    expect: int | None,
    response_model: type[BaseModel] | None,
) -> Gathering:
    """The ``Gathering`` of ``call`` (not sent until first iterated or awaited)."""
    conversation: Conversation[GatherReply] = Conversation(send, call, library)
    call.on_reply = GatherCollector(call, expect, conversation.put, response_model)
    return Gathering(conversation, expect)


class Gathering:
    """The replies of one gather as they arrive; or, awaited, all of them at once.

    ``async for reply in client.gather(...)`` yields each ``GatherReply`` as it
    comes; ``await client.gather(...)`` is the ``GatherResult``. Either ends when
    ``expect`` replies arrived or the timeout passed; ``complete`` then says which.
    Leaving an ``async with`` block (or ``aclose()``) stops a gather early.
    """

    def __init__(self, conversation: Conversation[GatherReply], expect: int | None) -> None:
        self._conversation = conversation
        self._expect = expect
        self._replies: list[GatherReply] = []

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> GatherReply:
        conversation = self._conversation
        conversation.start()
        try:
            reply = await conversation.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            ended = conversation.ended
            # Running out of time, or every group failing, is how a gather may end;
            # not reaching the broker (or the client closing) is the call failing.
            if ended is not None and not isinstance(ended, RequestTimeout | RemoteError):
                raise ended from None
            raise StopAsyncIteration from None
        self._replies.append(reply)
        return reply

    @property
    def complete(self) -> bool:
        return self._expect is not None and len(self._replies) >= self._expect

    def result(self) -> GatherResult:
        """What has arrived so far."""
        return GatherResult(tuple(self._replies), self._expect, self.complete)

    async def collect(self) -> GatherResult:
        """Wait for the end of the gather and return everything it received."""
        async for _ in self:
            pass
        return self.result()

    def __await__(self) -> Generator[Any, None, GatherResult]:
        return self.collect().__await__()

    async def aclose(self) -> None:
        await self._conversation.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
