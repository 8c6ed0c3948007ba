"""Running a request's handler: its deadline, its idempotency key and its retries.

The effects of deciding a request (running the handler, waiting, counting,
logging) happen here; what each result means is ``decide.py``'s to say.
"""

from __future__ import annotations

import functools
import logging
import time

import anyio

from .._config import HandlerRetry
from .._exceptions import RemoteError
from .._logging import about
from .._loop import LoopTools
from .._sentinel import UNSET
from .._telemetry import ServerTelemetry
from ..wire.headers import header_dict
from . import decide, outbox
from .context import RequestContext
from .deadlines import deadline_scopes
from .decide import Request
from .handler import Handler, PayloadInvalid, ResultInvalid
from .idempotency import IdempotencyStore, InMemoryIdempotencyStore, StoredReply
from .outcome import Outcome
from .streaming import StreamReplies

__all__ = ["Execution"]

logger = logging.getLogger("kafkarpc.server")


class _Running:
    """A request running under an idempotency key. Duplicates are rare, so the event
    they wait on is made only when one arrives, not for every request."""

    __slots__ = ("finished",)

    def __init__(self) -> None:
        self.finished: anyio.Event | None = None


class Execution:
    """Turns a ``Request`` into its ``Outcome`` by running its handler (or not)."""

    def __init__(
        self,
        store: IdempotencyStore,
        retry: HandlerRetry | None,
        workers: int,
        telemetry: ServerTelemetry,
        streams: StreamReplies | None = None,
    ) -> None:
        """Call from the loop that will run the handlers (its primitives are kept)."""
        self._store = store
        # HOT PATH: the built-in store never waits, so it is called through its
        # synchronous lookup/remember (no coroutine, no StoredReply per put); with
        # the worker deque this took the responder from 312k to 295k instructions
        # per request (docs/benchmarks.md). Any other store, a subclass included
        # (it may override get/put), goes through ``await get/put``;
        # tests/unit/test_server_idempotency_paths.py holds the two to the same answers.
        self._local = store if type(store) is InMemoryIdempotencyStore else None
        self._retry = retry
        self.workers = workers  # at most this many requests (and sync handlers) at once
        self._limiter = anyio.CapacityLimiter(workers)
        self.loop = LoopTools.running()
        self._deadline_scope = deadline_scopes(self.loop)  # HOT PATH: see deadlines.py
        self.telemetry = telemetry
        self._running: dict[str, _Running] = {}
        self._streams = streams  # runs the responders that are async generators

    async def outcome(self, request: Request) -> Outcome:
        expired = decide.expired_before_pickup(request.deadline_ms, time.time() * 1000)
        if expired is not None:
            self.telemetry.deadline_expired(request.record.topic)
            return expired
        key = request.routing.idempotency_key
        if key is None:
            return await self._execute(request)
        scoped = f"{request.record.topic}\x00{key}"
        while (running := self._running.get(scoped)) is not None:
            # A duplicate of a request being executed right now: wait for its result.
            if running.finished is None:
                running.finished = anyio.Event()
            await running.finished.wait()
        local = self._local
        stored = local.lookup(scoped) if local is not None else await self._store.get(scoped)
        if stored is not None:
            self.telemetry.deduplicated(request.record.topic)
            outbox.replay(stored.events, stored.source, request.record)
            return decide.remembered(stored)
        self._running[scoped] = running = _Running()
        try:
            outcome = await self._execute(request)
            if outcome.cacheable:
                # The handler's events are remembered too (server/outbox.py says when
                # a request answered from the store publishes them again).
                events = outbox.published(request.record, outcome.ok)
                if local is not None:
                    local.remember(scoped, outcome.ok, outcome.payload, events)
                else:
                    await self._store.put(scoped, StoredReply(outcome.ok, outcome.payload, *events))
            return outcome
        finally:
            del self._running[scoped]
            if running.finished is not None:
                running.finished.set()

    def _policy(self, handler: Handler) -> HandlerRetry | None:
        return self._retry if handler.retry is UNSET else handler.retry

    async def _execute(self, request: Request) -> Outcome:
        handler, _, envelope, _, deadline_ms = request
        try:
            argument = handler.parse(envelope.payload)
        except PayloadInvalid as exc:
            self.telemetry.validation_error(request.record.topic)
            return decide.invalid_payload(handler, exc)
        policy = self._policy(handler)
        streams = self._streams if handler.streams else None
        invoke = handler.invoke if streams is None else functools.partial(streams.run, request)
        attempt = 0
        while True:
            attempt += 1
            remaining = None if deadline_ms is None else deadline_ms / 1000 - time.time()
            if remaining is not None and remaining <= 0:
                self.telemetry.deadline_expired(request.record.topic)
                return decide.expired_during(attempt)
            # Only a handler that asks for the context pays for building it.
            context = None if handler.context_param is None else _context(request, attempt)
            try:
                if remaining is None:
                    result = await invoke(argument, context, self._limiter)
                else:
                    # A bare CancelScope: fail_after's context-manager wrapper costs more
                    # than the rest of a request's bookkeeping on this path.
                    deadline = self.loop.clock() + remaining
                    with self._deadline_scope(deadline=deadline) as scope:
                        result = await invoke(argument, context, self._limiter)
                    if scope.cancelled_caught:
                        self.telemetry.deadline_expired(request.record.topic)
                        return decide.cancelled_at_deadline()
                if streams is not None:
                    return decide.streamed(result)
                return decide.answered(handler.render(result))
            except RemoteError as exc:
                return decide.refused(exc, replies=handler.replies)
            except (ResultInvalid, Exception) as exc:
                error = exc
            if not decide.retries(policy, error, attempt):
                break
            assert policy is not None
            self.telemetry.retried(request.record.topic)
            logger.info(
                "handler %s failed (attempt %d/%d) for %s: %r; retrying",
                handler.name, attempt, policy.max_attempts, envelope.correlation_id, error,
                extra=about(envelope.correlation_id, request.record.topic),
            )  # fmt: skip
            await anyio.sleep(policy.backoff(attempt))
        self.telemetry.handler_error(request.record.topic)
        logger.warning(
            "handler %s failed for %s on %s: %r",
            handler.name, envelope.correlation_id, request.record.topic, error,
            extra=about(envelope.correlation_id, request.record.topic),
        )  # fmt: skip
        return decide.crashed(policy, error, attempt, replies=handler.replies)


def _context(request: Request, attempt: int) -> RequestContext:
    _, record, envelope, routing, deadline_ms = request
    return RequestContext(
        envelope.correlation_id,
        envelope.event_id,
        envelope.event_type,
        envelope.service,  # the caller
        record.topic,
        record.partition,
        record.offset,
        header_dict(record.headers),
        envelope.metadata or {},
        deadline_ms,
        routing.idempotency_key,
        routing.retry_count or 0,
        attempt,
        envelope.causation_id,
    )
