"""Calls answered by many replies: ``RpcClient.gather`` and ``RpcClient.stream``.

A gather or a stream is one ``Call`` down the same send pipeline as a request
(``conversation.py``); these methods build it and hand it to ``gather.py`` or
``stream.py``, which load on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from .._causation import current_cause
from .._config import NO_CALL_RETRY
from .._sentinel import UNSET, Unset
from ..wire.header_table import STREAM_ACCEPT
from ..wire.topics import TopicTrio
from .call import Call
from .lifecycle import ClientLifecycle
from .validate import check_timeout, new_call

if TYPE_CHECKING:
    # Only for annotations: importing it would load pydantic's model machinery.
    from pydantic import BaseModel

    from .gather import Gathering
    from .stream import ReplyStream

__all__ = ["Conversations"]

ModelT = TypeVar("ModelT", bound="BaseModel")


class Conversations(ClientLifecycle):
    """A client's calls that more than one reply answers (docs/patterns.md)."""

    _timeout: float  # set by RpcClient.__init__

    def gather(
        self,
        op: str | TopicTrio,
        payload: Mapping[str, Any] | BaseModel,
        *,
        expect: int | None = None,
        timeout: float | Unset = UNSET,
        response_model: type[BaseModel] | None = None,
        partition_key: str | None = None,
        headers: Mapping[str, str | bytes] | None = None,
    ) -> Gathering:
        """Ask every responder group of ``op`` at once; their replies as they arrive.

        ``async for reply in client.gather(...)`` yields a ``GatherReply`` per
        answering service (a failure is a reply with ``error`` set); ``await
        client.gather(...)`` collects them into a ``GatherResult``. It ends when
        ``expect`` replies arrived or ``timeout`` passed, with ``complete`` saying
        which; it raises only when the request could not be sent (``PublishError``,
        ``CircuitOpenError``, ``ClientClosed``). Sent once: a ``CallRetry`` does not apply.
        """
        # Loaded by the first gather, not by `import kafkarpc` (docs/benchmarks.md).
        from .gather import check_expect, gather_replies

        call = self._conversation_call(op, payload, timeout, partition_key, headers)
        return gather_replies(
            self._send_ready(),
            call,
            self._library,
            expect=check_expect(expect),
            response_model=response_model,
        )

    def stream(
        self,
        op: str | TopicTrio,
        payload: Mapping[str, Any] | BaseModel,
        *,
        timeout: float | Unset = UNSET,
        item_model: type[ModelT] | None = None,
        partition_key: str | None = None,
        headers: Mapping[str, str | bytes] | None = None,
    ) -> ReplyStream[Any]:
        """The items a streaming responder yields, in order, as they arrive.

        ``timeout`` bounds the whole stream. Items are dicts, or ``item_model``
        instances (``Progress``, say). Raises ``RemoteError`` when the responder
        fails, ``RequestTimeout`` when the deadline passes first. Sent once: a
        ``CallRetry`` does not apply (docs/patterns.md).
        """
        # Loaded by the first stream, not by `import kafkarpc` (docs/benchmarks.md).
        from .stream import open_stream, send_cancel

        extra = {**(headers or {}), STREAM_ACCEPT: "1"}
        call = self._conversation_call(op, payload, timeout, partition_key, extra)
        send, wire = self._send_ready(), self._writer.wire
        if wire is not None:  # a foreign wire: its replies are read as its profile says
            from .foreign import ProfileStreamCollector

            collect = partial(ProfileStreamCollector, wire)
            return open_stream(send, call, self._library, item_model, None, collect)
        cancel = partial(send_cancel, self._transport, self._writer, call)
        return open_stream(send, call, self._library, item_model, cancel)

    def _conversation_call(
        self,
        op: str | TopicTrio,
        payload: Mapping[str, Any] | BaseModel,
        timeout: float | Unset,
        partition_key: str | None,
        headers: Mapping[str, str | bytes] | None,
    ) -> Call:
        self._check_open()
        return new_call(
            self._trios.of(op),
            payload,
            timeout=self._timeout if timeout is UNSET else check_timeout(timeout),
            policy=NO_CALL_RETRY,  # a re-send would ask every group, or restart a stream
            clock=self._clock,
            partition_key=partition_key,
            headers=headers,
            idempotency_key=None,
            priority=None,
            cause=current_cause(),  # inside a handler, gathers and streams continue its chain
        )
