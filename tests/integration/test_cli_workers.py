"""``kafkarpc serve --workers N``: worker processes in one group, supervised (real broker)."""

from __future__ import annotations

import os
import re
import signal
import textwrap
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from tests.integration.test_cli import _Child

from kafkarpc import RpcClient, Topics

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

_APP = """
import os
from pathlib import Path

import anyio

from kafkarpc import RpcServer, Topics

BASE = {base!r}
server = RpcServer(
    os.environ["KAFKARPC_BOOTSTRAP"],
    service="workers-app",
    group_id=BASE + ".group",
    topics=Topics(create=True),
    config={{"session.timeout.ms": 2000, "heartbeat.interval.ms": 500}},
)


@server.responder(BASE + ".pid")
async def pid(payload: dict) -> dict:
    return {{"pid": os.getpid()}}


@server.responder(BASE + ".slow")
async def slow(payload: dict) -> dict:
    Path(payload["marker"]).write_text(str(os.getpid()))  # the test waits for this
    await anyio.sleep(2)  # the work a drain must let finish
    return {{"pid": os.getpid(), "finished": True}}


idle = RpcServer(os.environ["KAFKARPC_BOOTSTRAP"], service="idle", group_id=BASE + ".idle")
"""

_SERVING = r"kafkarpc\.server: serving "
_STARTED = r"worker (\d+) started \(pid (\d+)\)"


@pytest.fixture
def base(unique_topic_base: str) -> str:
    # The event type comes from the op's last two segments: end the base with a word.
    return f"{unique_topic_base}.app"


@pytest.fixture
def app_dir(tmp_path: Path, base: str) -> Path:
    (tmp_path / "workers_app.py").write_text(textwrap.dedent(_APP.format(base=base)))
    return tmp_path


def _started(child: _Child, count: int) -> dict[int, int]:
    """Wait until ``count`` workers logged that they serve; returns worker number -> pid."""
    pids: dict[int, int] = {}
    serving = 0
    while len(pids) < count or serving < count:
        line = child.stderr.wait_for(f"{_STARTED}|{_SERVING}").group(0)
        if match := re.match(_STARTED, line):
            pids[int(match.group(1))] = int(match.group(2))
        else:
            serving += 1
    return pids


@pytest.fixture
def supervisor(app_dir: Path, kafkarpc_broker: str) -> Iterator[_Child]:
    child = _Child(
        "serve", "workers_app:server", "--workers", "2", "--bootstrap", kafkarpc_broker,
        cwd=app_dir,
    )  # fmt: skip
    try:
        yield child
    finally:
        child.cleanup()


async def _answering_pids(client: RpcClient, base: str, wanted: set[int]) -> set[int]:
    """Call until every pid in ``wanted`` has answered (random keys spread the partitions)."""
    seen: set[int] = set()
    with anyio.fail_after(60):
        while not wanted <= seen:
            for _ in range(12):
                reply = await client.request(f"{base}.pid", {}, timeout=30)
                seen.add(reply["pid"])
    return seen


async def test_two_workers_share_the_group_s_partitions(
    supervisor: _Child, kafkarpc_broker: str, base: str
) -> None:
    pids = _started(supervisor, 2)
    async with RpcClient(kafkarpc_broker, service="caller", topics=Topics(create=True)) as client:
        seen = await _answering_pids(client, base, set(pids.values()))
    assert seen == set(pids.values())


async def test_a_killed_worker_is_restarted_and_serves_again(
    supervisor: _Child, kafkarpc_broker: str, base: str
) -> None:
    pids = _started(supervisor, 2)
    os.kill(pids[1], signal.SIGKILL)
    supervisor.stderr.wait_for(rf"worker 1 \(pid {pids[1]}\) killed by SIGKILL; restarting")
    restarted = _started(supervisor, 1)
    assert list(restarted) == [1] and restarted[1] != pids[1]
    async with RpcClient(kafkarpc_broker, service="caller", topics=Topics(create=True)) as client:
        seen = await _answering_pids(client, base, {restarted[1], pids[2]})
    assert pids[1] not in seen


async def test_sigterm_lets_every_worker_drain_before_the_supervisor_exits(
    supervisor: _Child, kafkarpc_broker: str, base: str, tmp_path: Path
) -> None:
    pids = _started(supervisor, 2)
    marker = tmp_path / "slow-started"
    async with (
        RpcClient(kafkarpc_broker, service="caller", topics=Topics(create=True)) as client,
        anyio.create_task_group() as group,
    ):
        replies: list[dict[str, object]] = []

        async def slow_call() -> None:
            replies.append(await client.request(f"{base}.slow", {"marker": str(marker)}))

        group.start_soon(slow_call)
        with anyio.fail_after(60):
            while not marker.exists():  # the handler is running once the file is there
                await anyio.sleep(0.05)
        code = await anyio.to_thread.run_sync(supervisor.signal_and_wait, signal.SIGTERM)

    assert code == 0
    (reply,) = replies
    assert reply["finished"] is True and reply["pid"] in pids.values()
    log = supervisor.stderr.text()
    assert f"worker 1 (pid {pids[1]}) stopped" in log
    assert f"worker 2 (pid {pids[2]}) stopped" in log


def test_a_worker_that_cannot_start_stops_them_all_with_its_exit_code(
    app_dir: Path, kafkarpc_broker: str
) -> None:
    child = _Child(
        "serve", "workers_app:idle", "--workers", "2", "--bootstrap", kafkarpc_broker,
        cwd=app_dir,
    )  # fmt: skip
    try:
        assert child.wait(timeout=60) == 2
        assert "restarting would not help, stopping all workers" in child.stderr.text()
    finally:
        child.cleanup()
