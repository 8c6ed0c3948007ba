"""What ``import kafkarpc`` loads and builds, and what it leaves for first use (issue 16)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import kafkarpc
from kafkarpc.wire.envelope import decode_envelope, decode_fields, new_message

# Loaded only when one of their public names is first used.
DEFERRED_MODULES = (
    "kafkarpc.asyncapi",
    "kafkarpc.dlq",
    "kafkarpc.admin",
    "kafkarpc.server",
    "kafkarpc.transport.memory",
)

_PROBE = """
import json, sys
import kafkarpc
from kafkarpc.wire.envelope import Envelope
from kafkarpc.wire.failure import ErrorPayload
print(json.dumps({
    "modules": sorted(sys.modules),
    "built": [Envelope.__pydantic_complete__, ErrorPayload.__pydantic_complete__],
}))
"""


def _fresh_import() -> dict[str, list[object]]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, list[object]] = json.loads(out)
    return result


def test_import_leaves_tools_server_and_validators_for_first_use() -> None:
    fresh = _fresh_import()
    loaded = [
        name
        for name in fresh["modules"]
        if isinstance(name, str) and name.startswith(DEFERRED_MODULES)
    ]
    assert loaded == []
    assert fresh["built"] == [False, False], "pydantic validators are built on first use"


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
