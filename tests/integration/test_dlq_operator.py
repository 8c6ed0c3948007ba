"""The DLQ tools against the real broker: missing and empty topics, and a late replay."""

from __future__ import annotations

import anyio
import pytest

from kafkarpc import TopicNotFound, TopicTrio, ensure_topics, inspect_dlq, replay_dlq
from kafkarpc._cli import main

pytestmark = pytest.mark.anyio


async def test_a_missing_dlq_raises(kafkarpc_broker: str, unique_topic_base: str) -> None:
    missing = f"{unique_topic_base}.requested.v1.dlq"
    with pytest.raises(TopicNotFound):
        await inspect_dlq(kafkarpc_broker, missing)
    with pytest.raises(TopicNotFound):
        await replay_dlq(kafkarpc_broker, missing)


def test_cli_inspect_of_a_missing_dlq_fails(
    kafkarpc_broker: str, unique_topic_base: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"{unique_topic_base}.requested.v1.dlq"
    assert main(["dlq", "inspect", missing, "--bootstrap", kafkarpc_broker]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{missing!r} does not exist" in err


def test_cli_inspect_of_an_empty_dlq_says_so(
    kafkarpc_broker: str, unique_topic_base: str, capsys: pytest.CaptureFixture[str]
) -> None:
    trio = TopicTrio.from_base(unique_topic_base)
    anyio.run(ensure_topics, kafkarpc_broker, [trio])  # creates the .dlq topic too
    dlq = f"{trio.requested}.dlq"
    assert main(["dlq", "inspect", dlq, "--bootstrap", kafkarpc_broker]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{dlq!r} exists and is empty" in err
