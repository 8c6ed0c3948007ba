"""``SyncClient``: ``RpcClient``'s calls as plain blocking methods, for code without a loop.

Scripts, notebooks, Django/Flask views and Celery tasks have no event loop. A
``SyncClient`` starts one in a daemon thread (an anyio blocking portal), creates
and starts an ``RpcClient`` inside it, and hands every call over to that thread,
so any number of threads can share one client. It adds no behaviour of its own:
what the async client returns or raises reaches the caller unchanged.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import CancelledError, Future
from contextlib import ExitStack
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, Required, Self, TypedDict, TypeVar, Unpack, overload

from anyio.from_thread import BlockingPortal, start_blocking_portal
from pydantic import BaseModel

from .._causation import Cause, current_cause
from .._config import CallRetry, CircuitBreaker, Limits, Security, Telemetry, Topics
from .._exceptions import ClientClosed, LifecycleError
from .._legacy import LegacyClientOptions
from .._loop import running_loop_library
from .._sentinel import Unset
from .._stats import ClientStats
from ..transport import Transport
from ..wire.topics import TopicTrio
from .facade import RpcClient
from .gather import Gathering, GatherResult
from .stream import ReplyStream
from .validate import CallOptions

if TYPE_CHECKING:
    from ..events import EmitResult, EventCatalog, EventRegistration
    from ..events.emit import EmitOptions

__all__ = ["ClientOptions", "GatherOptions", "PublishOptions", "StreamOptions", "SyncClient"]

ModelT = TypeVar("ModelT", bound=BaseModel)
ResultT = TypeVar("ResultT")
Operation = str | TopicTrio  # a base name, or the topics themselves
Payload = Mapping[str, Any] | BaseModel


class ClientOptions(LegacyClientOptions, total=False):
    """``RpcClient``'s keyword arguments, passed through unchanged by ``SyncClient``.

    A unit test holds these keys to ``RpcClient.__init__``'s signature, so the
    two cannot drift apart.
    """

    service: Required[str]
    retry: CallRetry | None
    circuit_breaker: CircuitBreaker | None
    limits: Limits | None
    topics: Topics | None
    timeout: float
    telemetry: Telemetry | None
    transport: Transport | None
    security: Security | None
    config: Mapping[str, Any] | None
    events: EventCatalog | None


class PublishOptions(TypedDict, total=False):
    """``RpcClient.publish``'s keywords (held to its signature by a unit test)."""

    event_type: str | None
    key: str | None
    correlation_id: str | None
    headers: Mapping[str, str | bytes] | None
    timeout: float | Unset
    cause: Cause | Unset | None


class GatherOptions(TypedDict, total=False):
    """``RpcClient.gather``'s keywords (held to its signature by a unit test)."""

    expect: int | None
    timeout: float | Unset
    response_model: type[BaseModel] | None
    partition_key: str | None
    headers: Mapping[str, str | bytes] | None


class StreamOptions(TypedDict, total=False):
    """``RpcClient.stream``'s keywords (held to its signature by a unit test)."""

    timeout: float | Unset
    item_model: type[BaseModel] | None
    partition_key: str | None
    headers: Mapping[str, str | bytes] | None


async def _gather_all(gathering: Callable[[], Gathering]) -> GatherResult:
    return await gathering().collect()


async def _open(
    stream: Callable[..., ReplyStream[Any]], op: Operation, payload: Payload, options: StreamOptions
) -> ReplyStream[Any]:
    # Made on the loop thread: the stream belongs to the client's loop.
    opened = stream(op, payload, **options)
    opened.start()
    return opened


async def _next_item(stream: ReplyStream[Any]) -> tuple[bool, Any]:
    try:
        return True, await anext(stream)
    except StopAsyncIteration:
        return False, None


class SyncClient:
    """Blocking twin of ``RpcClient``: the same constructor and calls (``request``, ``publish``,
    ``gather``, ``stream``).

    >>> with SyncClient("127.0.0.1:9092", service="report-job") as client:  # doctest: +SKIP
    ...     reply = client.request("billing.charge", {"cents": 1200})

    One background event-loop thread per client; every method may be called from
    any number of threads at once. ``close()`` (or leaving the ``with`` block)
    fails pending calls with ``ClientClosed`` and stops the thread; afterwards every
    method raises ``ClientClosed``. Calling a method from inside a running event
    loop raises ``LifecycleError``: it would block that loop; use ``RpcClient``.
    """

    def __init__(self, bootstrap: str | None = None, **options: Unpack[ClientOptions]) -> None:
        self._refuse_inside_loop("SyncClient()")
        self._lock = threading.Lock()  # orders "submit a call" against "close"
        self._closed = False
        self._stack = ExitStack()
        # start_blocking_portal returns only once the loop thread is running.
        self._portal: BlockingPortal = self._stack.enter_context(
            start_blocking_portal("asyncio", name="kafkarpc-sync-client")
        )
        try:
            # Built inside the loop thread: the client belongs to that loop.
            self._client = self._portal.call(partial(RpcClient, bootstrap, **options))
            self._portal.call(self._client.start)
        except BaseException:
            self._closed = True
            self._stack.close()
            raise

    @property
    def stats(self) -> ClientStats:
        """Counters of this client's calls, as ``RpcClient.stats``."""
        return self._client.stats

    @property
    def pending_count(self) -> int:
        """Calls waiting for a reply right now."""
        return self._client.pending_count

    def _refuse_inside_loop(self, what: str) -> None:
        library = running_loop_library()
        if library is not None:
            raise LifecycleError(
                f"{what} blocks until it is done and was called inside a running {library} "
                "event loop, which it would block; use 'async with RpcClient(...)' there"
            )

    def _run(self, what: str, call: Callable[[], Awaitable[ResultT]]) -> ResultT:
        self._refuse_inside_loop(what)
        with self._lock:
            if self._closed:
                raise ClientClosed("the client is closed")
            future: Future[ResultT] = self._portal.start_task_soon(call)
        try:
            return future.result()
        except CancelledError:
            # close() cancels what is still running once the pending calls failed.
            raise ClientClosed("the client was closed while the call was running") from None
        except BaseException:
            # Interrupted (Ctrl-C) or failed: cancelling a finished task is a no-op.
            future.cancel()
            raise

    @overload
    def request(
        self,
        op: Operation,
        payload: Payload,
        *,
        response_model: None = None,
        **options: Unpack[CallOptions],
    ) -> dict[str, Any]: ...

    @overload
    def request(
        self,
        op: Operation,
        payload: Payload,
        *,
        response_model: type[ModelT],
        **options: Unpack[CallOptions],
    ) -> ModelT: ...

    def request(
        self,
        op: Operation,
        payload: Payload,
        *,
        response_model: type[ModelT] | None = None,
        **options: Unpack[CallOptions],
    ) -> dict[str, Any] | ModelT:
        """``RpcClient.request``, blocking: the reply payload, or the same exception."""
        # The loop thread has contexts of its own: the caller's cause is read here.
        options.setdefault("cause", current_cause())
        if response_model is None:
            return self._run("request()", partial(self._client.request, op, payload, **options))
        return self._run(
            "request()",
            partial(self._client.request, op, payload, response_model=response_model, **options),
        )

    def publish(
        self,
        topic: str,
        payload: Payload,
        **options: Unpack[PublishOptions],
    ) -> str:
        """``RpcClient.publish``, blocking: the stored event's ``event_id``."""
        options.setdefault("cause", current_cause())
        return self._run("publish()", partial(self._client.publish, topic, payload, **options))

    def emit(
        self,
        event: str | EventRegistration,
        payload: Payload,
        **options: Unpack[EmitOptions],
    ) -> EmitResult:
        """``RpcClient.emit``, blocking: each target's outcome."""
        options.setdefault("cause", current_cause())
        return self._run("emit()", partial(self._client.emit, event, payload, **options))

    def gather(
        self, op: Operation, payload: Payload, **options: Unpack[GatherOptions]
    ) -> GatherResult:
        """``RpcClient.gather``, blocking: every reply that arrived, as a ``GatherResult``."""
        return self._run(
            "gather()", partial(_gather_all, partial(self._client.gather, op, payload, **options))
        )

    def stream(
        self, op: Operation, payload: Payload, **options: Unpack[StreamOptions]
    ) -> Iterator[Any]:
        """``RpcClient.stream`` as a plain iterator: each item as it arrives, in order.

        The request is sent now; iterating blocks for each item. Closing the
        iterator (leaving a ``for`` loop early, or ``close()``) stops listening and
        cancels the responder's generator.
        """
        stream = self._run("stream()", partial(_open, self._client.stream, op, payload, options))
        return self._items(stream)

    def _items(self, stream: ReplyStream[Any]) -> Iterator[Any]:
        try:
            while True:
                more, item = self._run("stream()", partial(_next_item, stream))
                if not more:
                    return
                yield item
        finally:
            with self._lock:
                closed = self._closed
            if not closed and running_loop_library() is None:
                # The client may close between the check and the call: nothing to stop then.
                with contextlib.suppress(ClientClosed):
                    self._run("stream()", stream.aclose)

    def close(self) -> None:
        """Fail pending calls with ``ClientClosed``, close the client, stop the thread.

        Idempotent. Blocks until the producer is flushed, like ``RpcClient.aclose``.
        """
        with self._lock:
            if self._closed:
                return
            self._refuse_inside_loop("close()")
            self._closed = True
        try:
            self._portal.call(self._client.aclose)
            # Calls still running after aclose (none are pending any more) are cancelled.
            self._portal.call(self._portal.stop, True)
        finally:
            self._stack.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
