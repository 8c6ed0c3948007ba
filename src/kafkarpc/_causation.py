"""``Cause``: the request a call or event is made while handling, and how it carries on.

A responder sets the current cause (a ``ContextVar``) while a handler runs; a
client call or publish made then, in the same task or a thread it started, picks
it up. The rule for what a caused message carries (docs/events.md, "Causation"):

- ``causation_id`` is the incoming request's ``event_id``;
- its own ``correlation_id`` (a call's reply is matched by it, and a retried call
  is recognised by it, so two calls made by one handler must not share one), and a
  ``correlation_chain`` header: the incoming request's chain followed by its
  ``correlation_id``. The chain's first id is the root: the call that started it all;
- a ``deadline_ms`` no later than the incoming one;
- the incoming trace context, when the client made no span of its own.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import NamedTuple, Protocol

__all__ = ["Cause", "CauseSource", "caused_by", "current_cause", "reset_cause", "set_cause"]

#: Separates the ids of a ``correlation_chain`` header (ids never contain one).
CHAIN_SEPARATOR = ","


class Cause(NamedTuple):
    """The request a message is made while handling: pass ``context.cause`` as
    ``cause=`` to ``RpcClient.request``/``publish``, or let the responder's current
    cause be found on its own.

    Immutable; a NamedTuple rather than a frozen dataclass because a responder
    makes one for every request it handles, and the dataclass's init costs twice
    as much (see ``server.decide.Request``).
    """

    event_id: str
    """The incoming request's ``event_id``: the caused message's ``causation_id``."""
    correlation_id: str
    """The incoming request's own ``correlation_id``."""
    chain: str | None = None
    """The incoming request's ``correlation_chain`` header, as received."""
    deadline_ms: int | None = None
    """When the incoming request's caller stops waiting (epoch ms)."""
    traceparent: str | None = None
    tracestate: str | None = None

    @property
    def correlation_chain(self) -> tuple[str, ...]:
        """The chain a caused message carries: root first, the incoming request last."""
        if not self.chain:
            return (self.correlation_id,)
        return (*self.chain.split(CHAIN_SEPARATOR), self.correlation_id)

    @property
    def chain_header(self) -> str:
        """``correlation_chain`` as the header a caused message carries."""
        if not self.chain:
            return self.correlation_id
        return f"{self.chain}{CHAIN_SEPARATOR}{self.correlation_id}"

    @property
    def root_correlation_id(self) -> str:
        """The correlation id of the call that started the chain."""
        return self.correlation_chain[0]

    def deadline_for(self, deadline_ms: int) -> int:
        """``deadline_ms``, moved no later than the incoming request's deadline."""
        if self.deadline_ms is None:
            return deadline_ms
        return min(deadline_ms, self.deadline_ms)


class CauseSource(Protocol):
    """What a responder makes current while a handler runs: its request, which gives its
    ``Cause`` only when a call or event made meanwhile asks for it."""

    def cause(self) -> Cause: ...


_CURRENT: ContextVar[Cause | CauseSource | None] = ContextVar("kafkarpc_cause", default=None)

#: ``token = set_cause(request)`` before a handler runs, ``reset_cause(token)`` after it.
#: The bare ContextVar methods, not a context manager building a Cause: a responder
#: does this for every request, and most handlers make no call (the wrapper and the
#: Cause it built cost 10k of its 278k instructions per request, benchmarks.instructions).
set_cause = _CURRENT.set
reset_cause = _CURRENT.reset


def current_cause() -> Cause | None:
    """The request being handled in this context, or None outside a handler."""
    current = _CURRENT.get()
    if current is None or isinstance(current, Cause):
        return current
    return current.cause()


class caused_by:  # noqa: N801 - used like a function: ``with caused_by(cause):``
    """Make ``cause`` current for what runs inside (a handler, on a responder).

    A class, not ``@contextmanager``: a responder enters one per request, and the
    generator machinery costs several times as much.
    """

    __slots__ = ("_cause", "_token")
    _token: Token[Cause | CauseSource | None]

    def __init__(self, cause: Cause | None) -> None:
        self._cause = cause

    def __enter__(self) -> None:
        self._token = _CURRENT.set(self._cause)

    def __exit__(self, *exc_info: object) -> None:
        _CURRENT.reset(self._token)
