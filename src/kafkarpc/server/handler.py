"""Turning a user function into a responder: type-driven validation and rendering."""

from __future__ import annotations

import collections.abc
import functools
import inspect
import json
import typing
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar, ParamSpec, TypeVar

import anyio
import pydantic
from pydantic import BaseModel, TypeAdapter

from .._config import HandlerRetry
from .._exceptions import ConfigurationError
from .._retry import RetryPolicy, handler_retry
from .._sentinel import UNSET, Unset
from ..wire.topics import TopicTrio
from .context import RequestContext

__all__ = ["Handler", "Responder", "ResponderSpec", "collect_responders", "responder"]

P = ParamSpec("P")
R = TypeVar("R")

_MARK = "__kafkarpc_responder__"
_PASSTHROUGH = (inspect.Parameter.empty, Any, dict, dict[str, Any], typing.Mapping, object)


@dataclass(frozen=True, slots=True)
class ResponderSpec:
    op: str | TopicTrio
    retry: HandlerRetry | RetryPolicy | Unset | None = UNSET


def responder(
    op: str | TopicTrio, *, retry: HandlerRetry | RetryPolicy | Unset | None = UNSET
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Mark a function as the responder for ``op``; ``RpcServer.include`` registers it.

    Lets a large service keep handlers in their own modules, like a router::

        # billing/handlers.py
        @kafkarpc.responder("billing.charge")
        async def charge(req: ChargeRequest) -> ChargeReceipt: ...

        # app.py
        server.include(billing.handlers)
    """
    TopicTrio.coerce(op)  # fail at import time on a bad name, not at startup

    def mark(func: Callable[P, R]) -> Callable[P, R]:
        setattr(func, _MARK, ResponderSpec(op, retry))
        return func

    return mark


def collect_responders(
    source: ModuleType | Iterable[Callable[..., Any]],
) -> list[tuple[Callable[..., Any], ResponderSpec]]:
    if isinstance(source, ModuleType):
        candidates: Iterable[Any] = vars(source).values()
    else:
        candidates = source
    found = []
    for candidate in candidates:
        spec = getattr(candidate, _MARK, None)
        if isinstance(spec, ResponderSpec):
            found.append((candidate, spec))
        elif not isinstance(source, ModuleType):
            raise ConfigurationError(f"{candidate!r} is not marked with @kafkarpc.responder(...)")
    return found


def _yielded_type(annotation: Any) -> Any:
    """What an async generator annotated ``AsyncIterator[X]`` (or ``AsyncGenerator[X, ...]``,
    ``AsyncIterable[X]``) yields: X; unannotated, anything."""
    origin = typing.get_origin(annotation)
    if origin in (
        collections.abc.AsyncIterator,
        collections.abc.AsyncGenerator,
        collections.abc.AsyncIterable,
    ):
        return typing.get_args(annotation)[0]
    return inspect.Parameter.empty


def _is_passthrough(annotation: Any) -> bool:
    return annotation in _PASSTHROUGH or typing.get_origin(annotation) in (dict, typing.Mapping)


class PayloadInvalid(Exception):
    """The request payload does not validate against the handler's parameter type."""

    def __init__(self, error: pydantic.ValidationError) -> None:
        super().__init__(str(error))
        self.errors: list[dict[str, Any]] = json.loads(error.json(include_url=False))


class ResultInvalid(Exception):
    """The handler returned something that is not a JSON object."""


@dataclass(frozen=True, slots=True)
class Handler:
    """A user function made callable with a payload: what responders and subscribers share.

    ``replies`` says whether what the function returns is sent back (a responder)
    or nobody waits for it (a subscriber, ``server/subscriber.py``).
    """

    replies: ClassVar[bool] = True

    func: Callable[..., Any]
    name: str
    retry: HandlerRetry | Unset | None
    payload_param: str | None
    payload_adapter: TypeAdapter[Any] | None
    context_param: str | None
    result_adapter: TypeAdapter[Any] | None
    """For a streaming responder, the adapter of each item it yields."""
    is_async: bool
    streams: bool
    """An async generator function: each item it yields is sent as it comes
    (``server/streaming.py``)."""

    @staticmethod
    def fields_of(
        func: Callable[..., Any], retry: HandlerRetry | RetryPolicy | Unset | None
    ) -> dict[str, Any]:
        """The fields of a handler for ``func``, read from its signature and type hints."""
        if not callable(func):
            raise ConfigurationError(f"a handler must be callable, got {func!r}")
        signature = inspect.signature(func)
        # A partial's annotations live on the wrapped function; the arguments it
        # already binds are not the payload's to fill.
        bound = func.keywords if isinstance(func, functools.partial) else {}
        target = func.func if isinstance(func, functools.partial) else func
        name_of = getattr(target, "__name__", repr(target))
        try:
            hints = typing.get_type_hints(target)
        except Exception as exc:  # unresolvable forward references
            raise ConfigurationError(f"cannot resolve type hints of {func!r}: {exc}") from exc
        payload_param = context_param = None
        payload_adapter = None
        for name, param in signature.parameters.items():
            if name in bound:
                continue
            annotation = hints.get(name, inspect.Parameter.empty)
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ConfigurationError(f"handler {name_of} cannot take *args/**kwargs")
            if annotation is RequestContext:
                context_param = name
            elif payload_param is None:
                payload_param = name
                if not _is_passthrough(annotation):
                    payload_adapter = TypeAdapter(annotation)
            else:
                raise ConfigurationError(
                    f"handler {name_of} takes one payload parameter and optionally "
                    f"one RequestContext; {name!r} is extra"
                )
        returns = hints.get("return", inspect.Parameter.empty)
        streams = inspect.isasyncgenfunction(target)
        if streams:
            returns = _yielded_type(returns)
        elif inspect.isgeneratorfunction(target):
            raise ConfigurationError(
                f"handler {name_of} is a generator function; a streaming responder "
                "is an async generator function ('async def' with 'yield')"
            )
        result_adapter = None
        if not _is_passthrough(returns) and returns is not type(None):
            result_adapter = TypeAdapter(returns)
        return {
            "func": func,
            "name": name_of,
            "retry": retry if retry is UNSET or retry is None else handler_retry(retry),
            "payload_param": payload_param,
            "payload_adapter": payload_adapter,
            "context_param": context_param,
            "result_adapter": result_adapter,
            "is_async": inspect.iscoroutinefunction(target),
            "streams": streams,
        }

    def __post_init__(self) -> None:
        if self.streams and not self.replies:
            raise ConfigurationError(
                f"handler {self.name} is an async generator, but nobody reads what a "
                "subscriber yields; make it a responder to stream replies"
            )

    def parse(self, payload: dict[str, Any]) -> Any:
        if self.payload_adapter is None:
            return payload
        try:
            return self.payload_adapter.validate_python(payload)
        except pydantic.ValidationError as exc:
            raise PayloadInvalid(exc) from exc

    def render(self, result: Any) -> dict[str, Any]:
        if result is None:
            return {}
        if self.result_adapter is not None:
            dumped = self.result_adapter.dump_python(result, mode="json")
        elif isinstance(result, BaseModel):
            dumped = result.model_dump(mode="json", by_alias=True)
        else:
            dumped = result
        if not isinstance(dumped, dict):
            raise ResultInvalid(
                f"responder {self.name} returned {type(result).__name__}; "
                "a reply payload must be a JSON object (dict or pydantic model)"
            )
        # Whether it encodes as JSON is checked by the encoder that runs anyway.
        return typing.cast("dict[str, Any]", dumped)

    async def invoke(
        self, argument: Any, context: RequestContext | None, limiter: anyio.CapacityLimiter
    ) -> Any:
        kwargs: dict[str, Any] = {}
        if self.payload_param is not None:
            kwargs[self.payload_param] = argument
        if self.context_param is not None:
            kwargs[self.context_param] = context
        if self.is_async:
            return await typing.cast("Callable[..., Awaitable[Any]]", self.func)(**kwargs)
        return await anyio.to_thread.run_sync(
            functools.partial(self.func, **kwargs), limiter=limiter
        )


@dataclass(frozen=True, slots=True)
class Responder(Handler):
    """A handler that answers the requests of one operation (its ``trio``)."""

    trio: TopicTrio

    @classmethod
    def build(
        cls,
        trio: TopicTrio,
        func: Callable[..., Any],
        retry: HandlerRetry | RetryPolicy | Unset | None,
    ) -> Responder:
        return cls(trio=trio, **Handler.fields_of(func, retry))
