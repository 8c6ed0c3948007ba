"""Event types: kafkarpc's UPPER_SNAKE and the ONEX documents' dotted lower-case names."""

from __future__ import annotations

import pytest

from kafkarpc import ConfigurationError, EnvelopeError, decode_envelope
from kafkarpc.wire.envelope import decode_fields, new_message, validate_event_type

ACCEPTED = [
    "ORDER_PLACED",
    "AGENT_ROUTING_REQUESTED",
    "omninode.codegen.request.validate.v1",
    "prompt.submitted",
    "omninode.my_domain.event.something_happened.v1",
    "onex.evt.omniclaude.prompt-submitted.v1",
]
REJECTED = [
    "",
    "order_placed",  # lower-case needs dots
    "OrderPlaced",
    "ORDER-PLACED",
    "Prompt.Submitted",
    "prompt..submitted",
    ".prompt.submitted",
    "prompt.submitted.",
    "prompt.submitted\n",
    "prompt submitted.v1",
    "ORDER.PLACED",
]


@pytest.mark.parametrize("event_type", ACCEPTED)
def test_both_conventions_are_accepted_on_send_and_on_receive(event_type: str) -> None:
    assert validate_event_type(event_type) == event_type
    value = new_message(event_type=event_type, correlation_id="c", service="s", payload={}).value
    assert decode_envelope(value).event_type == event_type
    assert decode_fields(value)["event_type"] == event_type


@pytest.mark.parametrize("event_type", REJECTED)
def test_anything_else_is_refused_on_send_and_on_receive(event_type: str) -> None:
    with pytest.raises(ConfigurationError, match="event_type must be"):
        validate_event_type(event_type)
    value = new_message(event_type=event_type, correlation_id="c", service="s", payload={}).value
    with pytest.raises(EnvelopeError, match="event_type"):
        decode_envelope(value)
    with pytest.raises(EnvelopeError, match="event_type"):
        decode_fields(value)
