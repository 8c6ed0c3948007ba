"""The responder's decisions as plain values: ``decide`` (a request's outcome),
``replier`` (its records, never changing an Outcome) and ``delivery.next_step``
(what to send when the broker refuses a record)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from kafkarpc import HandlerRetry, PayloadTooLarge, RemoteError, TopicNotFound, TopicTrio
from kafkarpc._exceptions import TransportError
from kafkarpc._sentinel import UNSET
from kafkarpc.server import decide
from kafkarpc.server.delivery import next_step
from kafkarpc.server.handler import Responder
from kafkarpc.server.idempotency import StoredReply
from kafkarpc.server.outcome import Outcome, failure
from kafkarpc.server.replier import DeadLetter, Replier, Reply, dead_letter
from kafkarpc.transport import ANY_PARTITION, InboundRecord
from kafkarpc.wire.dead_letter import DlqReason
from kafkarpc.wire.envelope import decode_envelope, new_message
from kafkarpc.wire.headers import RequestRouting

TRIO = TopicTrio.from_base("orders.place")


def _request() -> tuple[InboundRecord, Any]:
    message = new_message(
        event_type="ORDERS_PLACE_REQUESTED", correlation_id="c-1", service="caller", payload={}
    )
    record = InboundRecord(
        topic=TRIO.requested, partition=1, offset=7, key=b"c-1", value=message.value, headers=[]
    )
    return record, decode_envelope(message.value)


def _reply(outcome: Outcome, routing: RequestRouting | None = None) -> Reply:
    record, envelope = _request()
    handler = Responder.build(TRIO, _echo, UNSET)
    request = decide.Request(handler, record, envelope, routing or RequestRouting(), None)
    return Replier("orders").reply(request, outcome, None)


async def _echo(payload: dict[str, Any]) -> dict[str, Any]:
    return payload


def test_an_outcome_cannot_be_changed() -> None:
    outcome = Outcome(True, {"n": 1}, True)
    with pytest.raises(AttributeError):
        outcome.ok = False  # type: ignore[misc]


def test_a_failure_in_place_of_an_outcome_keeps_its_dead_letter_and_is_not_cached() -> None:
    error = RuntimeError("boom")
    crashed = decide.crashed(HandlerRetry(max_attempts=2), error, 2)
    assert (crashed.ok, crashed.dead_letter, crashed.attempts, crashed.cacheable) == (
        False,
        error,
        2,
        False,
    )
    instead = failure("X", "y", cacheable=True, instead_of=crashed)
    assert (instead.dead_letter, instead.attempts, instead.cacheable) == (error, 2, False)
    assert instead.payload == {
        "error_code": "X",
        "error_message": "y",
        "error_type": "",
        "retryable": False,
        "details": {},
    }
    assert decide.crashed(None, error, 1).dead_letter is None


def test_deadline_decisions() -> None:
    assert decide.expired_before_pickup(None, 10**13) is None
    assert decide.expired_before_pickup(1000, 1000) is None
    late = decide.expired_before_pickup(1000, 1250)
    assert late is not None and late.payload["error_code"] == "DEADLINE_EXCEEDED"
    assert "250 ms" in late.payload["error_message"]
    assert decide.expired_during(2).payload["error_message"].endswith("attempt 2 of the handler")
    assert decide.cancelled_at_deadline().cacheable is False


def test_answers_that_may_be_reused() -> None:
    assert decide.answered({"n": 1}) == Outcome(True, {"n": 1}, True)
    assert decide.remembered(StoredReply(False, {"e": 1})) == Outcome(False, {"e": 1}, True)
    final = decide.refused(RemoteError(error_code="NOT_FOUND", error_message="no"))
    assert (final.payload["error_type"], final.cacheable) == ("RemoteError", True)
    later = decide.refused(RemoteError(error_code="BUSY", error_message="", retryable=True))
    assert later.cacheable is False


def test_which_errors_run_the_handler_again() -> None:
    policy = HandlerRetry(max_attempts=3, handler_exceptions=(ConnectionError,))
    assert decide.retries(policy, ConnectionError(), 1)
    assert decide.retries(policy, ConnectionError(), 2)
    assert not decide.retries(policy, ConnectionError(), 3)
    assert not decide.retries(policy, ValueError(), 1)
    assert not decide.retries(None, ConnectionError(), 1)


def test_the_effective_deadline_is_the_earlier_of_deadline_and_ttl() -> None:
    _, envelope = _request()
    sent_ms = int(datetime.fromisoformat(envelope.timestamp).timestamp() * 1000)
    assert decide.effective_deadline(RequestRouting(deadline_ms=5), envelope) == 5
    by_ttl = decide.effective_deadline(RequestRouting(ttl_seconds=10), envelope)
    assert by_ttl is not None and abs(by_ttl - (sent_ms + 10_000)) <= 1
    both = RequestRouting(deadline_ms=sent_ms + 60_000, ttl_seconds=10)
    assert decide.effective_deadline(both, envelope) == by_ttl


def test_a_reply_goes_where_the_caller_asked() -> None:
    reply = _reply(Outcome(True, {"n": 1}), RequestRouting(reply_to="mine", reply_partition=2))
    assert (reply.record.topic, reply.record.partition, reply.renders) == ("mine", 2, 1)
    assert json.loads(reply.record.value)["payload"] == {"n": 1}
    failed = _reply(failure("X", "y"), RequestRouting(reply_to="mine"))
    assert (failed.record.topic, failed.record.partition) == (TRIO.failed, ANY_PARTITION)


def test_an_unserializable_reply_becomes_a_new_failure() -> None:
    decided = Outcome(True, {"when": object()}, True)
    reply = _reply(decided)
    assert decided.ok and decided.cacheable  # untouched
    assert reply.outcome.payload["error_type"] == "PayloadNotSerializable"
    assert (reply.outcome.cacheable, reply.record.topic, reply.renders) == (False, TRIO.failed, 2)


def test_what_is_sent_when_the_broker_refuses_a_reply() -> None:
    replier = Replier("orders")
    custom = _reply(Outcome(True, {"n": 1}), RequestRouting(reply_to="gone", reply_partition=3))
    moved = next_step(replier, custom, TopicNotFound("gone"))
    assert isinstance(moved, Reply)
    assert (moved.record.topic, moved.record.partition, moved.outcome) == (
        TRIO.completed,
        ANY_PARTITION,
        custom.outcome,
    )
    too_large = next_step(replier, moved, PayloadTooLarge("big", size=10, limit=5))
    assert isinstance(too_large, Reply)
    assert too_large.outcome.payload["error_code"] == "REPLY_TOO_LARGE"
    assert too_large.outcome.payload["details"] == {"size": 10, "limit": 5}
    assert moved.outcome.ok  # the refused reply's outcome is untouched
    assert too_large.record.topic == TRIO.failed
    # Out of renders (three), or refused for good: the request is parked.
    parked = next_step(replier, too_large, TopicNotFound(TRIO.failed))
    assert isinstance(parked, DeadLetter) and parked.instead_of is too_large
    assert parked.record.topic == f"{TRIO.requested}.dlq"
    assert isinstance(next_step(replier, moved, TransportError("down")), DeadLetter)
    failed = _reply(failure("X", "y"))
    assert isinstance(next_step(replier, failed, PayloadTooLarge("b", size=2, limit=1)), DeadLetter)


def test_a_refused_dead_letter_leaves_the_request_unacknowledged() -> None:
    record, _ = _request()
    letter = dead_letter(record, ValueError("poison"), DlqReason.POISON)
    assert letter.instead_of is None and letter.source is record
    assert next_step(Replier("orders"), letter, TransportError("down")) is None
