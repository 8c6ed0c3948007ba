"""The failure payload (docs/wire.md §2): what a reply on a ``failed`` topic carries.

Building one (a responder answering with an error) and reading one (a client
turning it into ``RemoteError``) both live here, so the two sides agree on its
fields and on what an unreadable one means.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from .codes import ErrorCode

__all__ = ["ErrorCode", "ErrorPayload", "failure_payload", "read_failure"]


class ErrorPayload(BaseModel):
    """The payload of a message on a ``failed`` topic."""

    # Built on first use, not at import: most processes never read a failure,
    # and `import kafkarpc` is paid by every `kafkarpc call` (docs/benchmarks.md).
    model_config = ConfigDict(extra="allow", defer_build=True)

    error_code: str = Field(min_length=1)
    error_message: str = ""
    error_type: str = ""
    retryable: bool = False
    details: dict[str, Any] = Field(default_factory=dict)


def failure_payload(
    code: str,
    message: str,
    *,
    error_type: str = "",
    retryable: bool = False,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The payload of a failure reply, every field of ``ErrorPayload`` present.

    A plain dict, not the model: it is encoded as it is, on the responder's path.
    """
    values = (code, message, error_type, retryable, dict(details or {}))
    return dict(zip(_FIELDS, values, strict=True))


# The builder's fields are the model's, in the model's order.
_FIELDS = tuple(ErrorPayload.model_fields)
if _FIELDS != ("error_code", "error_message", "error_type", "retryable", "details"):
    raise AssertionError("failure_payload must give every ErrorPayload field")


#: ``error_code`` of a failure reply whose payload is not a failure payload.
UNKNOWN_ERROR = "UNKNOWN_ERROR"


def read_failure(payload: Mapping[str, Any]) -> ErrorPayload:
    """A failure reply's payload as an ``ErrorPayload``.

    A peer may answer on the failed topic with anything: what is not a failure
    payload becomes ``UNKNOWN_ERROR`` carrying (the start of) what was sent.
    """
    try:
        return ErrorPayload.model_validate(payload)
    except pydantic.ValidationError:
        return ErrorPayload(error_code=UNKNOWN_ERROR, error_message=str(payload)[:500])
