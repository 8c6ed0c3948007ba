"""First contact with a wrong address: a prompt BrokerUnavailable naming it, not a
timeout blaming the reply path; and closing after an outage reports, not waits.

The unreachable cases use a loopback port nothing listens on. ``fail_after`` is only
a hang guard: today's code would raise RequestTimeout or hang in close instead.
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import anyio
import pytest

from kafkarpc import (
    BrokerUnavailable,
    ClientClosed,
    KafkaTransport,
    RpcClient,
    RpcServer,
    Security,
    TransportError,
    ensure_topics,
)
from kafkarpc._cli import main
from kafkarpc.testing import free_loopback_port, start_broker
from kafkarpc.transport import OutboundRecord

pytestmark = pytest.mark.anyio

_GUARD_S = 30.0  # a hang guard only, never a timing assertion


@pytest.fixture
def nowhere() -> str:
    return f"127.0.0.1:{free_loopback_port()}"


async def test_client_start_raises_broker_unavailable_naming_the_address(nowhere: str) -> None:
    client = RpcClient(nowhere, service="typo")
    with anyio.fail_after(_GUARD_S), pytest.raises(BrokerUnavailable) as caught:
        async with client:
            await client.request("calc.add", {}, timeout=3)
    assert str(caught.value) == f"broker {nowhere} unreachable (connection refused)"
    # The failed start leaves the client closed, not half started.
    with pytest.raises(ClientClosed):
        await client.request("calc.add", {})


async def test_server_start_raises_broker_unavailable(nowhere: str) -> None:
    server = RpcServer(nowhere, service="typo")

    @server.responder("calc.add")
    async def add(payload: dict[str, int]) -> dict[str, int]:
        return payload

    with anyio.fail_after(_GUARD_S), pytest.raises(BrokerUnavailable) as caught:
        async with server:
            pass
    assert str(caught.value) == f"broker {nowhere} unreachable (connection refused)"


def _help(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    """The command's --help with argparse's line wrapping undone."""
    assert main([command, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())


def test_cli_call_exits_4_with_one_line(nowhere: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", "--bootstrap", nowhere, "calc.add", "{}"]) == 4
    out, err = capsys.readouterr()
    assert err.strip() == f"kafkarpc call: error: broker {nowhere} unreachable (connection refused)"
    assert out == ""
    assert "4 request not delivered (the broker is unreachable" in _help("call", capsys)


def test_cli_serve_exits_1_with_the_reason(
    nowhere: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "typo_app.py").write_text(
        textwrap.dedent(
            """
            import os
            from kafkarpc import RpcServer

            server = RpcServer(os.environ["KAFKARPC_BOOTSTRAP"], service="typo")

            @server.responder("calc.add")
            async def add(payload: dict) -> dict:
                return payload
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    # serve exports --bootstrap into the environment: let monkeypatch restore it.
    monkeypatch.setenv("KAFKARPC_BOOTSTRAP", "")
    assert main(["serve", "typo_app:server", "--bootstrap", nowhere]) == 1
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line == f"kafkarpc serve: error: broker {nowhere} unreachable (connection refused)"
    assert "1 failed (the broker is unreachable" in _help("serve", capsys)


async def test_close_after_an_outage_reports_what_was_not_delivered(
    unique_topic_base: str,
) -> None:
    broker = start_broker()  # our own broker: this test stops it
    topic = f"{unique_topic_base}.events"
    outcomes: list[BaseException | None] = []
    try:
        await ensure_topics(broker.bootstrap, [topic])
        transport = KafkaTransport(broker.bootstrap)
        await transport.start()
        delivered = anyio.Event()

        def first(error: BaseException | None, _record: OutboundRecord) -> None:
            outcomes.append(error)
            delivered.set()

        with anyio.fail_after(_GUARD_S):
            transport.produce(OutboundRecord(topic, b"before", None, []), first)
            await delivered.wait()
        broker.stop()  # reached once, then gone: not a start-up error
        transport.produce(
            OutboundRecord(topic, b"after", None, []), lambda e, _r: outcomes.append(e)
        )
        with anyio.fail_after(_GUARD_S):
            await transport.aclose()
    finally:
        broker.stop()
    assert outcomes[0] is None
    assert len(outcomes) == 2, "the record the broker never took was reported at close"
    assert isinstance(outcomes[1], TransportError)
    assert "not delivered" in str(outcomes[1])


async def test_a_refused_login_is_reported_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    password = "pw-5e1d-never-shown"
    broker = start_broker(authentication=True)  # requires a login and knows no user
    security = Security(
        protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        username="alice",
        password=password,
    )
    caplog.set_level(logging.DEBUG)
    try:
        # librdkafka's "conf" debug lines dump every property, the password's included.
        client = RpcClient(
            broker.bootstrap, service="login", security=security, config={"debug": "conf"}
        )
        with anyio.fail_after(_GUARD_S), pytest.raises(BrokerUnavailable) as caught:
            await client.start()
    finally:
        broker.stop()
    assert str(caught.value).startswith(
        f"broker {broker.bootstrap} unreachable (authentication failed: "
    )
    assert "sasl.password = [redacted]" in caplog.text, "the configuration was logged"
    shown = [caplog.text, str(caught.value), repr(caught.value), repr(caught.value.__cause__)]
    assert not [text for text in shown if password in text]
