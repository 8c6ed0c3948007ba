"""What ``kafkarpc serve --workers`` does when a worker ends (the supervisor's pure decision)."""

from __future__ import annotations

import signal

import pytest

from kafkarpc._cli import main
from kafkarpc._cli._workers import MAX_BACKOFF_S, STABLE_AFTER_S, Restart, Stop, after_exit


def test_a_worker_stopped_by_the_supervisor_is_done() -> None:
    assert after_exit(0, stopping=True, ran_for=5, crashes_in_a_row=0) == Stop(None)


def test_a_worker_that_fails_while_stopping_makes_the_exit_a_failure() -> None:
    assert after_exit(-signal.SIGKILL, stopping=True, ran_for=5, crashes_in_a_row=0) == Stop(1)


@pytest.mark.parametrize("code", [1, 2])
def test_a_failure_that_a_restart_cannot_fix_stops_everything_with_its_code(code: int) -> None:
    assert after_exit(code, stopping=False, ran_for=0.1, crashes_in_a_row=0) == Stop(code)


@pytest.mark.parametrize("code", [-signal.SIGKILL, -signal.SIGSEGV, 0, 137])
def test_a_crash_is_restarted(code: int) -> None:
    assert after_exit(code, stopping=False, ran_for=60, crashes_in_a_row=0) == Restart(0.5, 1)


def test_the_backoff_doubles_while_a_worker_keeps_crashing_soon_after_starting() -> None:
    delays = []
    crashes = 0
    for _ in range(8):
        decision = after_exit(-9, stopping=False, ran_for=1, crashes_in_a_row=crashes)
        assert isinstance(decision, Restart)
        delays.append(decision.delay)
        crashes = decision.crashes_in_a_row
    assert delays == [0.5, 1, 2, 4, 8, MAX_BACKOFF_S, MAX_BACKOFF_S, MAX_BACKOFF_S]
    # A worker that stayed up a while before crashing starts over at the first delay.
    assert after_exit(-9, stopping=False, ran_for=STABLE_AFTER_S, crashes_in_a_row=5) == Restart(
        0.5, 1
    )


@pytest.mark.parametrize("count", ["0", "-2", "two"])
def test_a_worker_count_below_one_is_a_usage_error(
    count: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "app:server", "--workers", count]) == 2
    assert "--workers" in capsys.readouterr().err
