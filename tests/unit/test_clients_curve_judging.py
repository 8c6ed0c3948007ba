"""The clients curve's target, table and plot, judged from its JSON dict alone."""

from __future__ import annotations

from typing import Any

import pytest
from benchmarks.curves.clients import CURVE, RECOMMENDED, TARGET_CLIENTS


def _level(
    clients: int, cpu: float | None, *, foreign: float = 0.0, errors: int = 0
) -> dict[str, Any]:
    return {
        "clients": clients,
        "calls": 100 * clients,
        "errors": errors,
        "first_error": "RequestTimeout: no reply" if errors else None,
        "client_work_cpu_us_per_call": {"median": cpu, "min": cpu, "max": cpu},
        # With the idle share: not what the target judges.
        "client_cpu_us_per_call": {"median": 5000.0, "min": 5000.0, "max": 5000.0},
        "foreign_replies_per_call": {"median": foreign, "min": foreign, "max": foreign},
        "work_cpu_ratio_to_one_client": None,
    }


def _data(
    pinned: list[dict[str, Any]], default: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    counts = sorted({level["clients"] for level in pinned})
    return {
        "settings": {"clients": counts},
        "configurations": {"default": "every partition", "pinned": "one partition each"},
        "recommended": RECOMMENDED,
        "levels": {"default": default or [], "pinned": pinned},
    }


def test_the_target_is_met_when_one_client_at_16_spends_at_most_one_and_a_half_times() -> None:
    (target,) = CURVE.targets(_data([_level(1, 200.0), _level(TARGET_CLIENTS, 260.0)]))
    assert target.met is True
    assert "1.30x" in target.measured
    assert "pinned" in target.goal


def test_the_target_is_missed_when_the_cost_grows_with_the_clients() -> None:
    default = [
        _level(1, 200.0),
        {**_level(16, 900.0, foreign=15.0), "work_cpu_ratio_to_one_client": 4.5},
    ]
    (target,) = CURVE.targets(_data([_level(1, 200.0), _level(16, 400.0)], default))
    assert target.met is False
    assert "2.00x" in target.measured
    assert "default 4.50x" in target.measured


def test_failed_calls_miss_the_target_whatever_the_cpu() -> None:
    (target,) = CURVE.targets(_data([_level(1, 200.0), _level(16, 210.0, errors=3)]))
    assert target.met is False
    assert "3 failed calls" in target.measured


@pytest.mark.parametrize(
    "pinned",
    [
        [_level(1, 200.0), _level(2, 210.0)],  # a quick run: 16 clients never measured
        [_level(1, 200.0), {"clients": 16, "failure": "client 3 crashed"}],
        [_level(1, None), _level(16, 210.0)],  # no /proc
    ],
)
def test_the_target_is_unjudged_when_the_run_did_not_measure_it(
    pinned: list[dict[str, Any]],
) -> None:
    (target,) = CURVE.targets(_data(pinned))
    assert target.met is None


def test_the_table_shows_each_configuration_and_names_the_recommended_one() -> None:
    data = _data(
        [_level(1, 200.0), {"clients": 16, "failure": "hung"}],
        [_level(1, 210.0), _level(16, 900.0, foreign=15.0, errors=2)],
    )
    data["reading_cost"] = [
        {"clients": 16, "work_cpu_us_per_call_default_minus_pinned": 480.0},
    ]
    table = CURVE.format(data)
    assert "900 (15.0) 2 err" in table
    assert "reading others' replies at 16 clients (default - pinned): 480 µs/call" in table
    assert "failed" in table
    assert table.splitlines()[-1].startswith(f"recommended: {RECOMMENDED}")


def test_the_plot_draws_a_line_per_configuration() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots()
    try:
        CURVE.plot(
            ax, _data([_level(1, 200.0), _level(16, 220.0)], [_level(1, 210.0), _level(16, 900.0)])
        )
        labels = [line.get_label() for line in ax.get_lines()]
    finally:
        plt.close(figure)
    assert labels == ["default", f"{RECOMMENDED} (recommended)"]


def test_the_docs_page_shows_the_judged_work_cpu_and_what_reading_others_costs() -> None:
    from benchmarks.render.curve_views import clients

    data = _data(
        [_level(1, 200.0), _level(16, 220.0)],
        [_level(1, 210.0), _level(16, 700.0, foreign=15.0)],
    )
    data["settings"].update(
        calls_per_s_per_client=50.0,
        max_in_flight_per_client=4,
        calls_per_client=600,
        reply_partitions=16,
        responder="one RpcServer",
    )
    data["reading_cost"] = [
        {"clients": 16, "work_cpu_us_per_call_default_minus_pinned": 480.0},
    ]
    text = clients(data)
    assert "50 calls/s per client (at most 4 in flight)" in text
    assert "| 16 | 700 | 15.0 | 220 | 0.0 |" in text
    assert "`pinned` work CPU µs/call" in text
    assert "16 clients: 480." in text
