"""Log records about a message name its correlation id and topic; payloads stay out
of the log unless a preview hook says what may be shown (at DEBUG only)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pytest

from kafkarpc import RemoteError, Telemetry

if TYPE_CHECKING:
    from tests.unit.conftest import MemoryRpc

pytestmark = pytest.mark.anyio

SECRET = "hunter2-card-4111111111111111"


async def test_failure_logs_carry_correlation_id_and_topic_but_no_payload(
    rpc: MemoryRpc, caplog: pytest.LogCaptureFixture
) -> None:
    async def charge(payload: dict[str, str]) -> dict[str, str]:
        raise ValueError("card declined")

    trio, server = rpc.serve("billing.charge", charge)
    caplog.set_level(logging.INFO, logger="kafkarpc")
    async with server, rpc.client() as client:
        with pytest.raises(RemoteError) as caught:
            await client.request(trio, {"card": SECRET})
    about_call = [r for r in caplog.records if getattr(r, "correlation_id", None)]
    assert about_call, "the handler failure was logged"
    for record in about_call:
        assert record.correlation_id == caught.value.correlation_id  # type: ignore[attr-defined]
        assert record.topic == trio.requested  # type: ignore[attr-defined]
    assert SECRET not in caplog.text


async def test_payload_preview_hook_is_used_at_debug_only(
    rpc: MemoryRpc, caplog: pytest.LogCaptureFixture
) -> None:
    def redact(payload: Mapping[str, Any]) -> str:
        return str({key: "***" if key == "card" else value for key, value in payload.items()})

    async def refund(payload: dict[str, str]) -> dict[str, str]:
        return {"ok": "yes"}

    telemetry = Telemetry(payload_preview=redact)
    trio, server = rpc.serve("billing.refund", refund, telemetry=telemetry)
    caplog.set_level(logging.DEBUG, logger="kafkarpc")
    async with server, rpc.client(telemetry=telemetry) as client:
        await client.request(trio, {"card": SECRET, "amount": "12"})
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("'card': '***'" in message and "'amount': '12'" in message for message in debug)
    assert SECRET not in caplog.text


async def test_without_a_hook_debug_logs_do_not_show_payloads(
    rpc: MemoryRpc, caplog: pytest.LogCaptureFixture
) -> None:
    async def plain(payload: dict[str, str]) -> dict[str, str]:
        return {}

    trio, server = rpc.serve("billing.plain", plain)
    caplog.set_level(logging.DEBUG, logger="kafkarpc")
    async with server, rpc.client() as client:
        await client.request(trio, {"card": SECRET})
    assert any("<payload not logged>" in r.getMessage() for r in caplog.records)
    assert SECRET not in caplog.text
