"""What ``import kafkarpc`` loads and builds, and what it leaves for first use (issue 16)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import kafkarpc
from kafkarpc.wire.envelope import decode_envelope, decode_fields, new_message

# Loaded only when one of their public names is first used (or, for the Kafka
# transport, when the first client or server is made; for the client's send
# pipeline and confluent_kafka.admin, when one starts; for the trace-context
# propagator, by the first traced call).
DEFERRED_MODULES = (
    "kafkarpc.asyncapi",
    "kafkarpc.dlq",
    "kafkarpc.admin",
    "kafkarpc.server",
    "kafkarpc.transport.memory",
    "kafkarpc.transport.kafka",
    "kafkarpc.client.pipeline",
    "kafkarpc.client.layers",
    "kafkarpc.client.gather",
    "kafkarpc.client.stream",
    "kafkarpc.client.conversation",
    "kafkarpc.wire.model",
    "kafkarpc.wire.failure",
    "kafkarpc.progress",
    # pydantic's model machinery: about half of what the dependencies cost to import.
    "pydantic.main",
    "pydantic.fields",
    "confluent_kafka.admin",
    "opentelemetry.trace.propagation.tracecontext",
)

_PROBE = """
import json, sys
import {module}
modules = sorted(sys.modules)
from kafkarpc.wire.envelope import Envelope
from kafkarpc.wire.failure import ErrorPayload
print(json.dumps({{
    "modules": modules,
    "built": [Envelope.__pydantic_complete__, ErrorPayload.__pydantic_complete__],
}}))
"""


def _fresh_import(module: str) -> dict[str, list[object]]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, list[object]] = json.loads(out)
    return result


def _deferred_loaded(fresh: dict[str, list[object]]) -> list[object]:
    return [
        name
        for name in fresh["modules"]
        if isinstance(name, str) and name.startswith(DEFERRED_MODULES)
    ]


def test_import_leaves_tools_server_models_and_validators_for_first_use() -> None:
    fresh = _fresh_import("kafkarpc")
    assert _deferred_loaded(fresh) == []
    assert fresh["built"] == [False, False], "pydantic validators are built on first use"


def test_the_cli_loads_no_server_dlq_tools_or_models_before_a_command_runs() -> None:
    # `kafkarpc call` pays the CLI's import; serving and the DLQ tools load with their command.
    assert _deferred_loaded(_fresh_import("kafkarpc._cli")) == []


def test_a_pydantic_model_payload_is_still_encoded_as_one() -> None:
    probe = """
import pydantic
from kafkarpc.wire.envelope import encode_payload
class Order(pydantic.BaseModel):
    order_id: str = pydantic.Field(alias="orderId")
assert encode_payload(Order(orderId="o-1")).json == b'{"orderId":"o-1"}'
"""
    subprocess.run([sys.executable, "-c", probe], check=True)


@pytest.mark.parametrize("name", sorted(kafkarpc._LAZY))
def test_every_deferred_name_loads_and_reports_the_package(name: str) -> None:
    value = getattr(kafkarpc, name)
    assert value.__module__ == "kafkarpc"
    assert name in dir(kafkarpc)
    assert kafkarpc.__dict__[name] is value, "loaded once, then a plain attribute"


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = kafkarpc.no_such_name


def test_the_lazily_built_decoders_decode_from_their_first_call() -> None:
    # decode_fields' schema is the model's: its first call loads kafkarpc.wire.model.
    # Run in a fresh interpreter: in this one an earlier test may have built them.
    probe = """
from kafkarpc.wire.envelope import decode_envelope, decode_fields, new_message
value = new_message(event_type="A_B", correlation_id="c", service="s", payload={"n": 1}).value
assert decode_fields(value)["payload"] == {"n": 1}
assert decode_envelope(value).payload == {"n": 1}
"""
    subprocess.run([sys.executable, "-c", probe], check=True)
    value = new_message(event_type="A_B", correlation_id="c", service="s", payload={"n": 2}).value
    assert decode_fields(value)["payload"] == decode_envelope(value).payload == {"n": 2}
