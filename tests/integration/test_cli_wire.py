"""``kafkarpc call --wire`` and ``kafkarpc serve --wire``, as real subprocesses on the broker."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from tests.integration.test_cli import _Child, _run_cli

pytestmark = pytest.mark.broker

_APP = """
import os

from kafkarpc import RemoteError, RpcServer, Topics

server = RpcServer(
    os.environ["KAFKARPC_BOOTSTRAP"],
    service="cli-wire",
    group_id={base!r},
    wire=os.environ.get("KAFKARPC_WIRE", "kafkarpc"),
    topics=Topics(create=True),
    config={{"session.timeout.ms": 2000, "heartbeat.interval.ms": 500}},
)


@server.responder({base!r} + ".sum")
async def add(request: dict) -> dict:
    if request["a"] < 0:
        raise RemoteError(error_code="NEGATIVE", error_message="a must be >= 0")
    return {{"sum": request["a"] + request["b"]}}
"""


@pytest.mark.parametrize("wire", ["nestjs", "spring"])
def test_serve_and_call_speak_the_wire_named_by_wire(
    tmp_path: Path, kafkarpc_broker: str, unique_topic_base: str, wire: str
) -> None:
    (tmp_path / "wire_app.py").write_text(textwrap.dedent(_APP.format(base=unique_topic_base)))
    child = _Child(
        "serve", "wire_app:server", "--bootstrap", kafkarpc_broker, "--wire", wire, cwd=tmp_path
    )
    try:
        child.stderr.wait_for(r"kafkarpc\.server: serving ")
        op = f"{unique_topic_base}.sum"
        ok = _run_cli(
            "call", op, '{"a": 2, "b": 3}', "--wire", wire, "--bootstrap", kafkarpc_broker
        )
        failed = _run_cli(
            "call", op, '{"a": -1, "b": 0}', "--wire", wire, "--bootstrap", kafkarpc_broker
        )
    finally:
        child.cleanup()
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"sum": 5}
    assert failed.returncode == 1
    assert json.loads(failed.stderr)["error_message"] == "a must be >= 0"


def test_serve_refuses_a_server_that_speaks_another_wire(
    tmp_path: Path, kafkarpc_broker: str, unique_topic_base: str
) -> None:
    app = _APP.format(base=unique_topic_base).replace('os.environ.get("KAFKARPC_WIRE", ', "(")
    (tmp_path / "wire_app.py").write_text(textwrap.dedent(app))
    result = _run_cli(
        "serve", "wire_app:server", "--bootstrap", kafkarpc_broker, "--wire", "nestjs",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "speaks the kafkarpc wire, not nestjs" in result.stderr
