"""Circuit breaker (docs/wire.md §6): the state machine, and how the client uses it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from pydantic import BaseModel

from kafkarpc import (
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    ConfigurationError,
    RemoteError,
    RequestError,
    RequestTimeout,
)
from kafkarpc.client.circuit import CircuitTracker

if TYPE_CHECKING:
    from tests.unit.conftest import MemoryRpc

OP = "inventory.reserve"
RESET = 0.2  # short enough to wait out, long enough that "still open" checks are not racy


def tracker(**options: Any) -> CircuitTracker:
    options.setdefault("failure_threshold", 3)
    options.setdefault("reset_timeout", 60)
    return CircuitTracker(CircuitBreaker(**options), "inventory.reserve.requested.v1")


def calls(t: CircuitTracker, outcomes: str) -> list[CircuitState]:
    """One admitted call per letter (s: it succeeded, f: it failed); the state after each."""
    states = []
    for outcome in outcomes:
        t.before_call()
        if outcome == "s":
            t.on_success()
        else:
            t.on_failure()
        states.append(t.state)
    return states


def open_tracker(**options: Any) -> CircuitTracker:
    options.setdefault("failure_threshold", 3)
    t = tracker(**options)
    assert calls(t, "f" * options["failure_threshold"])[-1] is CircuitState.OPEN
    return t


def wait_reset() -> None:
    time.sleep(RESET + 0.05)


# ------------------------------------------------------------------ configuration


@pytest.mark.parametrize(
    "options",
    [
        {"failure_threshold": 0},
        {"reset_timeout": 0},
        {"reset_timeout": -1},
        {"half_open_max_calls": 0},
    ],
)
def test_bad_breaker_options(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        CircuitBreaker(**options)


# ------------------------------------------------------------------ state machine


def test_starts_closed_and_admits_calls() -> None:
    t = tracker()
    assert t.state is CircuitState.CLOSED
    assert calls(t, "s" * 10) == [CircuitState.CLOSED] * 10


def test_opens_after_threshold_consecutive_failures() -> None:
    t = tracker(failure_threshold=3)
    assert calls(t, "fff") == [CircuitState.CLOSED, CircuitState.CLOSED, CircuitState.OPEN]


def test_success_resets_the_failure_count() -> None:
    t = tracker(failure_threshold=3)
    for _ in range(5):
        t.on_failure()
        t.on_failure()
        t.on_success()
    assert t.state is CircuitState.CLOSED


def test_open_circuit_rejects_calls() -> None:
    t = open_tracker()
    with pytest.raises(CircuitOpenError) as info:
        t.before_call()
    assert isinstance(info.value, RequestError)
    assert 0 < info.value.retry_after <= 60
    assert info.value.topic == "inventory.reserve.requested.v1"
    assert t.state is CircuitState.OPEN


def test_half_open_after_reset_timeout() -> None:
    t = open_tracker(reset_timeout=RESET)
    wait_reset()
    t.before_call()  # admitted as a probe
    assert t.state is CircuitState.HALF_OPEN


def test_probe_success_closes() -> None:
    t = open_tracker(reset_timeout=RESET)
    wait_reset()
    t.before_call()
    t.on_success()
    assert t.state is CircuitState.CLOSED
    t.before_call()  # admits normally again


def test_probe_failure_reopens() -> None:
    t = open_tracker(failure_threshold=3, reset_timeout=RESET)
    wait_reset()
    t.before_call()
    t.on_failure()  # one failure is enough while half-open
    assert t.state is CircuitState.OPEN
    with pytest.raises(CircuitOpenError):
        t.before_call()


def test_half_open_admits_only_max_probes() -> None:
    t = open_tracker(half_open_max_calls=2, reset_timeout=RESET)
    wait_reset()
    t.before_call()
    t.before_call()
    with pytest.raises(CircuitOpenError):
        t.before_call()
    assert t.state is CircuitState.HALF_OPEN


def test_abandoned_probe_frees_its_slot() -> None:
    t = open_tracker(half_open_max_calls=1, reset_timeout=RESET)
    wait_reset()
    t.before_call()
    with pytest.raises(CircuitOpenError):
        t.before_call()
    t.on_abandoned()
    t.before_call()
    assert t.state is CircuitState.HALF_OPEN


# ------------------------------------------------------------------ through the client


class Reservation(BaseModel):
    sku: str
    quantity: int


@pytest.mark.anyio
async def test_client_circuit_opens_and_recovers(rpc: MemoryRpc) -> None:
    trio = rpc.trio(OP)
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=0.3)
    async with rpc.client(circuit_breaker=breaker) as client:
        for _ in range(2):
            with pytest.raises(RequestTimeout):
                await client.request(OP, {"sku": "a", "quantity": 1}, timeout=0.1)
        assert client.circuit_state(OP) is CircuitState.OPEN
        sent = len(rpc.broker.records(trio.requested))
        assert sent == 2

        with pytest.raises(CircuitOpenError) as info:
            await client.request(OP, {"sku": "a", "quantity": 1}, timeout=5)
        assert info.value.retry_after > 0
        assert len(rpc.broker.records(trio.requested)) == sent  # nothing produced
        assert client.stats.circuit_rejections == 1
        assert client.pending_count == 0

        server = rpc.server()

        @server.responder(OP)
        async def reserve(req: Reservation) -> dict[str, Any]:
            return {"reserved": req.quantity}

        async with server:
            await anyio.sleep(0.35)
            reply = await client.request(OP, {"sku": "a", "quantity": 2}, timeout=5)
            assert reply == {"reserved": 2}
            assert client.circuit_state(OP) is CircuitState.CLOSED
            assert await client.request(OP, {"sku": "b", "quantity": 1}) == {"reserved": 1}


@pytest.mark.anyio
async def test_circuits_are_per_operation(rpc: MemoryRpc) -> None:
    rpc.trio(OP)
    rpc.trio("inventory.release")
    async with rpc.client(circuit_breaker=CircuitBreaker(failure_threshold=1)) as client:
        with pytest.raises(RequestTimeout):
            await client.request(OP, {}, timeout=0.1)
        assert client.circuit_state(OP) is CircuitState.OPEN
        assert client.circuit_state("inventory.release") is CircuitState.CLOSED
        with pytest.raises(RequestTimeout):  # still sent, not rejected
            await client.request("inventory.release", {}, timeout=0.1)


@pytest.mark.anyio
async def test_validation_errors_do_not_open_the_circuit(rpc: MemoryRpc) -> None:
    rpc.trio(OP)
    server = rpc.server()

    @server.responder(OP)
    async def reserve(req: Reservation) -> dict[str, Any]:
        return {}

    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=30)
    async with rpc.client(circuit_breaker=breaker) as client, server:
        for _ in range(3):
            with pytest.raises(RemoteError) as info:
                await client.request(OP, {"sku": 1})
            assert info.value.error_code == "VALIDATION_ERROR"
            assert info.value.retryable is False
        assert client.circuit_state(OP) is CircuitState.CLOSED
        assert await client.request(OP, {"sku": "x", "quantity": 1}) == {}


@pytest.mark.anyio
async def test_retryable_remote_errors_open_the_circuit(rpc: MemoryRpc) -> None:
    rpc.trio(OP)
    server = rpc.server()

    @server.responder(OP)
    async def reserve(payload: dict[str, Any]) -> dict[str, Any]:
        raise RemoteError(error_code="UNAVAILABLE", error_message="busy", retryable=True)

    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=30)
    async with rpc.client(circuit_breaker=breaker) as client, server:
        for _ in range(2):
            with pytest.raises(RemoteError):
                await client.request(OP, {})
        assert client.circuit_state(OP) is CircuitState.OPEN
        with pytest.raises(CircuitOpenError):
            await client.request(OP, {})


@pytest.mark.anyio
async def test_no_breaker_means_always_closed(rpc: MemoryRpc) -> None:
    rpc.trio(OP)
    async with rpc.client() as client:
        for _ in range(3):
            with pytest.raises(RequestTimeout):
                await client.request(OP, {}, timeout=0.05)
        assert client.circuit_state(OP) is CircuitState.CLOSED
