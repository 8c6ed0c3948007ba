"""Observe layer (outermost): one span, the counters and metrics, and the error the caller sees.

Everything below it raises what it met; this layer names the outcome once,
records it once, and turns a failure met while setting up or sending a call
into the caller's error type (``RequestTimeout``, ``PublishError``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..._exceptions import (
    CircuitOpenError,
    PublishError,
    RemoteError,
    RequestTimeout,
    TopicNotFound,
    TransportError,
)
from ..._telemetry import (
    OUTCOME_CANCELLED,
    OUTCOME_CIRCUIT_OPEN,
    OUTCOME_OK,
    OUTCOME_PUBLISH_ERROR,
    OUTCOME_REMOTE_ERROR,
    OUTCOME_TIMEOUT,
    ClientTelemetry,
)
from ..call import Call, Send

__all__ = ["ObserveLayer", "as_call_error"]


def as_call_error(exc: BaseException, call: Call) -> BaseException:
    """The error a caller sees for a failure while setting up or sending ``call``."""
    if isinstance(exc, RequestTimeout | PublishError | TopicNotFound):
        return exc
    trio = call.trio
    if isinstance(exc, TimeoutError):
        return RequestTimeout(
            f"no reply from {trio.requested} in time (the deadline passed while "
            "positioning the reply reader)",
            correlation_id=call.correlation_id,
            topic=trio.requested,
            elapsed=call.elapsed(),
        )
    return PublishError(
        f"could not publish to {trio.requested}: {exc}",
        correlation_id=call.correlation_id,
        topic=trio.requested,
        elapsed=call.elapsed(),
    )


@dataclass(slots=True)
class ObserveLayer:
    below: Send
    telemetry: ClientTelemetry

    async def send(self, call: Call) -> dict[str, Any]:
        telemetry = self.telemetry
        operation = call.trio.requested
        telemetry.request_started(operation)
        outcome: str = OUTCOME_CANCELLED
        error: BaseException | None = None
        with telemetry.request_span(operation, call.correlation_id, call.key) as span:
            call.span = span
            try:
                result = await self.below(call)
                outcome = OUTCOME_OK
                return result
            except CircuitOpenError as exc:
                outcome, error = OUTCOME_CIRCUIT_OPEN, exc
                raise
            except RemoteError as exc:
                outcome, error = OUTCOME_REMOTE_ERROR, exc
                raise
            except (TimeoutError, PublishError, TransportError) as exc:
                error = failure = as_call_error(exc, call)
                outcome = (
                    OUTCOME_TIMEOUT
                    if isinstance(failure, RequestTimeout)
                    else OUTCOME_PUBLISH_ERROR
                )
                if failure is exc:
                    raise
                raise failure from exc
            except BaseException as exc:
                error = exc
                raise
            finally:
                telemetry.request_finished(operation, outcome, call.started, span, error)
