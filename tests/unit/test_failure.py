"""The failure payload (docs/wire.md §2): built by responders, read by clients."""

from __future__ import annotations

from typing import Any

import pytest

from kafkarpc import ErrorCode, ErrorPayload
from kafkarpc.wire.failure import UNKNOWN_ERROR, failure_payload, read_failure


def test_a_built_payload_has_every_field_of_the_model() -> None:
    payload = failure_payload(ErrorCode.NOT_FOUND, "no such thing")
    assert set(payload) == set(ErrorPayload.model_fields)
    assert payload == {
        "error_code": "NOT_FOUND",
        "error_message": "no such thing",
        "error_type": "",
        "retryable": False,
        "details": {},
    }


def test_a_built_payload_reads_back_unchanged() -> None:
    payload = failure_payload(
        ErrorCode.HANDLER_ERROR,
        "boom",
        error_type="ValueError",
        retryable=True,
        details={"attempt": 2},
    )
    failure = read_failure(payload)
    assert failure.model_dump() == payload


def test_details_are_copied_not_shared() -> None:
    details = {"a": 1}
    payload = failure_payload("X", "m", details=details)
    details["a"] = 2
    assert payload["details"] == {"a": 1}


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"error_code": ""},
        {"error_code": 5},
        {"message": "no code"},
        {"error_code": "X", "retryable": "maybe"},
    ],
)
def test_what_is_not_a_failure_payload_reads_as_unknown_error(payload: dict[str, Any]) -> None:
    failure = read_failure(payload)
    assert failure.error_code == UNKNOWN_ERROR
    assert failure.error_message == str(payload)[:500]


def test_a_peers_own_code_and_extra_fields_are_kept() -> None:
    failure = read_failure({"error_code": "QUOTA", "error_message": "slow down", "hint": 3})
    assert failure.error_code == "QUOTA"
    assert failure.model_extra == {"hint": 3}


def test_the_long_text_of_an_unreadable_payload_is_cut() -> None:
    failure = read_failure({"blob": "x" * 2000})
    assert len(failure.error_message) == 500
