"""The ``kafkarpc`` command line, run as real subprocesses against the session broker.

Every wait is a handshake on the child's output (``serving ...``, ``bootstrap: ...``),
never a fixed sleep; every child is killed in ``finally`` if a test fails midway.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import anyio
import pytest

from kafkarpc import TopicTrio, ensure_topics
from kafkarpc._cli import main

pytestmark = pytest.mark.broker

# Tansu holds a JoinGroup for about half the session timeout; 2 s keeps joins ~1 s.
_FAST_GROUP = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 500}
_STARTUP_S = 30.0
_CALL_S = 30.0

_APP_MODULE = """
import logging
import os

import anyio

from kafkarpc import RpcServer, Topics, TopicTrio

BASE = {base!r}
HYPHEN_TRIO = TopicTrio(
    requested=BASE + ".code-analysis-requested.v1",
    completed=BASE + ".code-analysis-completed.v1",
    failed=BASE + ".code-analysis-failed.v1",
)
log = logging.getLogger("cli_app")
not_a_server = 42


def build_server() -> RpcServer:
    server = RpcServer(
        os.environ["KAFKARPC_BOOTSTRAP"],
        service="cli-test",
        group_id=BASE,
        topics=Topics(create=True),
        config={config!r},
    )

    @server.responder(BASE + ".echo")
    async def echo(request: dict) -> dict:
        return {{"echo": request}}

    @server.responder(BASE + ".fail")
    async def fail(request: dict) -> dict:
        raise ValueError("boom")

    @server.responder(BASE + ".slow")
    async def slow(request: dict) -> dict:
        log.info("slow request started")  # the test's cue to send SIGTERM
        await anyio.sleep(1.0)
        return {{"slept": True}}

    @server.responder(HYPHEN_TRIO)
    async def analyze(request: dict) -> dict:
        return {{"analyzed": request}}

    return server


server = build_server()
"""


class _Lines:
    """Lines of one child stream, pumped by a thread so a test can wait with a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)  # end of stream

    def wait_for(self, pattern: str, timeout: float = _STARTUP_S) -> re.Match[str]:
        """The first line (from here on) matching ``pattern``; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r}; got:\n{self.text()}")

    def text(self) -> str:
        """Everything read so far (after the child exits: everything it wrote)."""
        self._thread.join(timeout=5)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return "".join(self.seen)
            if line is not None:
                self.seen.append(line)


class _Child:
    """``python -m kafkarpc ARGS`` with both output streams pumped line by line."""

    def __init__(self, *args: str, cwd: Path | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kafkarpc", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.stdout = _Lines(self.process.stdout)
        self.stderr = _Lines(self.process.stderr)

    def signal_and_wait(self, signum: int, timeout: float = _STARTUP_S) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=timeout)

    def wait(self, timeout: float = _CALL_S) -> int:
        return self.process.wait(timeout=timeout)

    def cleanup(self) -> None:
        if self.process.poll() is None:
            # SIGTERM first: a SIGKILLed dev-broker would orphan its Tansu child, which
            # runs in its own session.
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stdout.text()
        self.stderr.text()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def _run_cli(*args: str, cwd: Path | None = None, timeout: float = _CALL_S) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "kafkarpc", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _write_app(directory: Path, base: str) -> Path:
    (directory / "cli_app.py").write_text(
        textwrap.dedent(_APP_MODULE.format(base=base, config=_FAST_GROUP))
    )
    return directory


def _serve(app_dir: Path, bootstrap: str, attr: str = "server") -> _Child:
    """Start ``kafkarpc serve cli_app:ATTR`` and return once it logged that it serves."""
    child = _Child("serve", f"cli_app:{attr}", "--bootstrap", bootstrap, cwd=app_dir)
    try:
        child.stderr.wait_for(r"kafkarpc\.server: serving ")
    except BaseException:
        child.cleanup()
        raise
    return child


def _letter_led(base: str) -> str:
    # The event type comes from the op's last two segments, and one that starts with a
    # digit (a hex suffix like "3c3e2d") makes an envelope the responder rejects as
    # poison. Ending the base with a word keeps "{base}.echo" -> "APP_ECHO".
    return f"{base}.app"


@pytest.fixture(scope="module")
def app_base() -> str:
    return _letter_led(f"test.cli.{uuid.uuid4().hex[:8]}")


@pytest.fixture
def fresh_base(unique_topic_base: str) -> str:
    """Like ``app_base`` but per test, for tests that run their own server."""
    return _letter_led(unique_topic_base)


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory, app_base: str) -> Path:
    return _write_app(tmp_path_factory.mktemp("cli_app"), app_base)


@pytest.fixture(scope="module")
def served(app_dir: Path, kafkarpc_broker: str) -> Iterator[_Child]:
    """One ``kafkarpc serve`` shared by the tests that only call it."""
    child = _serve(app_dir, kafkarpc_broker)
    try:
        yield child
    finally:
        child.cleanup()


# ------------------------------------------------------------------------ call
def test_call_prints_the_reply_as_json(served: _Child, kafkarpc_broker: str, app_base: str) -> None:
    result = _run_cli("call", f"{app_base}.echo", '{"n": 1}', "--bootstrap", kafkarpc_broker)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"echo": {"n": 1}}


def test_call_failure_reply_exits_1_with_the_failure_payload_on_stderr(
    served: _Child, kafkarpc_broker: str, app_base: str
) -> None:
    result = _run_cli("call", f"{app_base}.fail", "{}", "--bootstrap", kafkarpc_broker)

    assert result.returncode == 1
    assert result.stdout == ""
    failure = json.loads(result.stderr)
    assert failure["error_code"] == "HANDLER_ERROR"
    assert failure["error_message"] == "boom"
    assert failure["error_type"] == "ValueError"
    assert failure["retryable"] is False


def test_call_explicit_hyphen_topics(served: _Child, kafkarpc_broker: str, app_base: str) -> None:
    result = _run_cli(
        "call",
        '{"source": "x = 1"}',
        "--bootstrap",
        kafkarpc_broker,
        "--requested",
        f"{app_base}.code-analysis-requested.v1",
        "--completed",
        f"{app_base}.code-analysis-completed.v1",
        "--failed",
        f"{app_base}.code-analysis-failed.v1",
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"analyzed": {"source": "x = 1"}}


def test_call_bootstrap_from_environment(
    served: _Child, kafkarpc_broker: str, app_base: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kafkarpc", "call", f"{app_base}.echo"],
        env={**os.environ, "KAFKARPC_BOOTSTRAP": kafkarpc_broker},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=_CALL_S,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"echo": {}}  # PAYLOAD defaults to {}


def test_call_without_a_responder_times_out_with_exit_3(
    kafkarpc_broker: str, unique_topic_base: str
) -> None:
    anyio.run(ensure_topics, kafkarpc_broker, [TopicTrio.from_base(unique_topic_base)])

    result = _run_cli(
        "call", unique_topic_base, "{}", "--bootstrap", kafkarpc_broker, "--timeout", "0.5"
    )

    assert result.returncode == 3
    assert "no reply" in result.stderr


@pytest.mark.parametrize(
    ("payload", "message"),
    [('{"n": 1', "not valid JSON"), ("[1, 2]", "must be a JSON object")],
)
def test_call_rejects_a_payload_that_is_not_a_json_object(payload: str, message: str) -> None:
    result = _run_cli("call", "agent.routing", payload, "--bootstrap", "127.0.0.1:9")

    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["call", "agent.routing", "--requested", "a.requested.v1"], "go together"),
        (["call", "bad name!", "{}"], "illegal characters"),
        (["call", "agent.routing", "{}", "--timeout", "0"], "--timeout must be > 0"),
    ],
)
def test_call_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = _run_cli(*args, "--bootstrap", "127.0.0.1:9")

    assert result.returncode == 2
    assert message in result.stderr


# ------------------------------------------------------------------------ serve
def test_serve_a_factory_and_stop_it_with_sigint(
    tmp_path: Path, kafkarpc_broker: str, fresh_base: str
) -> None:
    child = _serve(_write_app(tmp_path, fresh_base), kafkarpc_broker, "build_server")
    try:
        result = _run_cli("call", f"{fresh_base}.echo", '{"n": 2}', "--bootstrap", kafkarpc_broker)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"echo": {"n": 2}}

        assert child.signal_and_wait(signal.SIGINT) == 0
    finally:
        child.cleanup()


def test_sigterm_drains_the_request_in_flight_then_exits_0(
    tmp_path: Path, kafkarpc_broker: str, fresh_base: str
) -> None:
    server = _serve(_write_app(tmp_path, fresh_base), kafkarpc_broker)
    caller = _Child("call", f"{fresh_base}.slow", "{}", "--bootstrap", kafkarpc_broker)
    try:
        server.stderr.wait_for("slow request started")

        assert server.signal_and_wait(signal.SIGTERM) == 0
        assert caller.wait() == 0, caller.stderr.text()
        assert json.loads(caller.stdout.text()) == {"slept": True}
        assert "received SIGTERM" in server.stderr.text()
    finally:
        caller.cleanup()
        server.cleanup()


@pytest.mark.parametrize(
    ("app", "message"),
    [
        ("cli_app", "expected MODULE:ATTR"),
        ("no_such_module_here:server", "could not import module 'no_such_module_here'"),
        ("cli_app:missing", "has no attribute 'missing'"),
        ("cli_app:not_a_server", "not an RpcServer"),
    ],
)
def test_serve_bad_app_exits_2(app_dir: Path, app: str, message: str) -> None:
    result = _run_cli("serve", app, "--bootstrap", "127.0.0.1:9", cwd=app_dir)

    assert result.returncode == 2
    assert message in result.stderr


def test_console_script_imports_the_app_from_the_current_directory(app_dir: Path) -> None:
    # Unlike `python -m`, a console script does not put the current directory on
    # sys.path; `serve` must add it (as uvicorn does) to find cli_app.py.
    script = shutil.which("kafkarpc", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the kafkarpc console script is not installed next to this interpreter")
    result = subprocess.run(
        [script, "serve", "cli_app:not_a_server", "--bootstrap", "127.0.0.1:9"],
        cwd=app_dir,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=_CALL_S,
        check=False,
    )

    assert result.returncode == 2
    assert "not an RpcServer or a zero-argument factory returning one (got int)" in result.stderr


# ------------------------------------------------------------------------ dev-broker
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_dev_broker_prints_its_bootstrap_and_stops_on_a_signal(signum: int) -> None:
    child = _Child("dev-broker")
    try:
        port = int(child.stdout.wait_for(r"^bootstrap: 127\.0\.0\.1:(\d+)$").group(1))
        socket.create_connection(("127.0.0.1", port), timeout=5).close()

        assert child.signal_and_wait(signum) == 0
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        child.cleanup()


# ------------------------------------------------------------------------ in process
def test_version_and_help_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert main(["call", "--help"]) == 0

    out = capsys.readouterr().out
    assert "kafkarpc 0.1.0" in out
    assert "exit codes" in out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "required: COMMAND" in capsys.readouterr().err


_LOAD_APP = """
import os
import anyio
from kafkarpc import RpcServer

server = RpcServer(
    os.environ["KAFKARPC_BOOTSTRAP"],
    service="load-test",
    group_id={group!r},
    max_concurrency=8,
    config={config!r},
)


@server.responder({base!r})
async def work(request: dict) -> dict:
    with open({log!r}, "a") as log:  # one line per execution, across both runs
        log.write(f"{{request['n']}}\\n")
    await anyio.sleep(0.2)
    return {{"n": request["n"], "pid": os.getpid()}}
"""


def test_sigterm_under_load_then_restart_answers_everything_once(
    tmp_path: Path, kafkarpc_broker: str, fresh_base: str
) -> None:
    executions = tmp_path / "executions.log"
    executions.touch()
    (tmp_path / "load_app.py").write_text(
        textwrap.dedent(
            _LOAD_APP.format(
                group=f"load-{fresh_base}", config=_FAST_GROUP, base=fresh_base, log=str(executions)
            )
        )
    )
    anyio.run(ensure_topics, kafkarpc_broker, [TopicTrio.from_base(fresh_base)])

    def serve() -> _Child:
        child = _Child("serve", "load_app:server", "--bootstrap", kafkarpc_broker, cwd=tmp_path)
        child.stderr.wait_for(r"kafkarpc\.server: serving ")
        return child

    async def load() -> dict[int, dict[str, int]]:
        from kafkarpc import RpcClient

        replies: dict[int, dict[str, int]] = {}
        async with RpcClient(kafkarpc_broker, service="load-client") as client:

            async def one(n: int) -> None:
                replies[n] = await client.request(fresh_base, {"n": n}, timeout=60)

            async with anyio.create_task_group() as tg:
                for n in range(40):
                    tg.start_soon(one, n)
                # Stop the responder while it is busy: it finishes what it fetched.
                while len(executions.read_text().split()) < 8:
                    await anyio.sleep(0.02)
                first_exit = await anyio.to_thread.run_sync(first.signal_and_wait, signal.SIGTERM)
                assert first_exit == 0, first.stderr.text()
                # A restarted responder (same group) takes over from the committed offsets.
                holder["second"] = await anyio.to_thread.run_sync(serve)
                for n in range(40, 60):
                    tg.start_soon(one, n)
        return replies

    holder: dict[str, _Child] = {}
    first = serve()
    try:
        replies = anyio.run(load)
    finally:
        first.cleanup()
        if "second" in holder:
            holder["second"].cleanup()

    assert sorted(replies) == list(range(60)), "every request was answered"
    assert all(reply["n"] == n for n, reply in replies.items())
    ran = [int(line) for line in executions.read_text().split()]
    assert sorted(ran) == list(range(60)), "each request executed exactly once across the restart"
    first_pid = replies[0]["pid"]
    assert all(replies[n]["pid"] != first_pid for n in range(40, 60)), "the restart served wave 2"
