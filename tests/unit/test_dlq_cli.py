"""``kafkarpc dlq`` against the memory broker: what a missing, an empty and a full topic print."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kafkarpc import DlqReason, MemoryBroker, MemoryTransport, dlq
from kafkarpc._cli import main
from kafkarpc.transport import InboundRecord
from kafkarpc.wire.dead_letter import dead_letter_record

DLQ = "agent.park.requested.v1.dlq"


@pytest.fixture
def on_memory(broker: MemoryBroker, monkeypatch: pytest.MonkeyPatch) -> MemoryBroker:
    """The CLI's DLQ tools read ``broker`` instead of connecting to Kafka."""

    def through_memory(tool: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def run(bootstrap: str, topic: str, **options: Any) -> Any:
            transport = MemoryTransport(broker)
            await transport.start()
            try:
                return await tool(bootstrap, topic, transport=transport, **options)
            finally:
                await transport.aclose()

        return run

    # The CLI imports the tools from kafkarpc.dlq when a command runs.
    monkeypatch.setattr(dlq, "inspect_dlq", through_memory(dlq.inspect_dlq))
    monkeypatch.setattr(dlq, "replay_dlq", through_memory(dlq.replay_dlq))
    return broker


@pytest.mark.parametrize("action", ["inspect", "replay"])
def test_a_missing_topic_is_an_error(
    on_memory: MemoryBroker, action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dlq", action, "no.such.topic.dlq", "--bootstrap", "unused:1"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "'no.such.topic.dlq' does not exist" in err


def test_an_empty_topic_says_so_on_stderr(
    on_memory: MemoryBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    on_memory.create_topic(DLQ)
    assert main(["dlq", "inspect", DLQ, "--bootstrap", "unused:1"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert f"'{DLQ}' exists and is empty" in err


def test_a_full_topic_prints_its_records_and_nothing_on_stderr(
    on_memory: MemoryBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    on_memory.create_topic(DLQ)
    original = InboundRecord("agent.park.requested.v1", 0, 3, None, b"x", [], 1)
    on_memory.append(dead_letter_record(original, RuntimeError("boom"), reason=DlqReason.POISON))
    assert main(["dlq", "inspect", DLQ, "--bootstrap", "unused:1"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1
    assert '"reason": "poison"' in out
    assert err == ""


@pytest.mark.parametrize("argv", [["dlq"], ["dlq", "inspect"], ["dlq", "replay"]])
def test_help_documents_the_exit_codes(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps to the terminal
    assert "exit codes: 0 done" in out
    assert "1 TOPIC does not exist" in out
    assert "2 usage error" in out
