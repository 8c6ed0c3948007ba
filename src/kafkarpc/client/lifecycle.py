"""The life of an ``RpcClient``: starting, closing, and what it reports meanwhile.

``RpcClient`` (``facade.py``) builds the parts and offers the calls; this class
opens and closes them, so that each of the two stays one job.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Self

import anyio

from .._config import Limits, Topics
from .._exceptions import ClientClosed, LifecycleError
from .._loop import running_clock, running_library
from .._stats import ClientStats
from .._telemetry import ClientTelemetry
from ..transport import Transport
from ..wire.topics import TopicTrio
from .call import Send
from .circuit import Circuits, CircuitState, CircuitTracker
from .pending import PendingCalls
from .records import RecordWriter
from .validate import TrioNames

if TYPE_CHECKING:
    from .foreign import ProfileRoutes

__all__ = ["ClientLifecycle", "ClientState"]


class ClientState(enum.Enum):
    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


class ClientLifecycle:
    """Start and close a client's connection, pipeline and reply reader; its counters."""

    # Set by RpcClient.__init__:
    _transport: Transport
    _pending: PendingCalls
    _telemetry: ClientTelemetry
    _circuits: Circuits
    _writer: RecordWriter
    _limits: Limits
    _topics: Topics
    _trios: TrioNames | ProfileRoutes
    _state: ClientState
    # Set by start(), from the running loop:
    _library: str
    _clock: Callable[[], float]
    _send: Send | None

    async def start(self) -> None:
        """Connect and start the reply reader. ``async with`` calls this for you.

        Raises ``BrokerUnavailable`` when no broker can be reached (refused, unknown
        host, failed TLS handshake); the client is closed then.
        """
        if self._state is not ClientState.NEW:
            raise LifecycleError(f"client is {self._state.value}; a client starts once")
        self._library = running_library()
        self._clock = running_clock()
        try:
            # Raises BrokerUnavailable at once when no broker can be reached.
            await self._transport.start()
            # The send pipeline's layers load with the first client that starts,
            # not with `import kafkarpc` (a responder-only program never needs them).
            from .pipeline import open_pipeline

            self._send = await open_pipeline(
                self._transport,
                self._pending,
                self._telemetry,
                self._circuits,
                self._writer,
                self._limits,
                self._topics,
            )
        except BaseException:
            await self._transport.aclose()
            self._state = ClientState.CLOSED
            raise
        self._state = ClientState.OPEN

    async def aclose(self) -> None:
        """Fail every pending call with ClientClosed, flush the producer, stop reading."""
        if self._state is ClientState.CLOSED:
            return
        self._state = ClientState.CLOSED
        self._pending.close(ClientClosed, "the client was closed while the call was pending")
        with anyio.CancelScope(shield=True):
            await self._transport.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _check_open(self) -> None:
        if self._state is not ClientState.OPEN:
            if self._state is ClientState.NEW:
                raise LifecycleError("client is not started; use 'async with RpcClient(...)'")
            raise ClientClosed("the client is closed")

    @property
    def stats(self) -> ClientStats:
        """Counters of this client's calls (also exported as OpenTelemetry metrics)."""
        return self._telemetry.stats

    @property
    def pending_count(self) -> int:
        """Calls waiting for a reply right now."""
        return len(self._pending)

    def circuit_state(self, op: str | TopicTrio) -> CircuitState:
        """The circuit of ``op``: closed when no breaker is configured or nothing failed."""
        return self._circuits.state(self._trios.of(op))

    def _circuit(self, trio: TopicTrio) -> CircuitTracker | None:
        return self._circuits.tracker(trio) if self._circuits.enabled else None

    def _send_ready(self) -> Send:
        assert self._send is not None
        return self._send
