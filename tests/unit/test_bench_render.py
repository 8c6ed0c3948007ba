"""The benchmark's JSON rendered as the pages' markdown (benchmarks/render, benchmarks/docs).

The fixture ``bench_docs/bench-20261206T230251Z.json`` has the shape ``kafkarpc bench``
writes: rows of a real short run at 1 and 16 in flight, three rounds at 256, one
round at 1024 with a few errors, ratios, conversations, four curves and targets.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from benchmarks.docs import PAGES, main
from benchmarks.render import curves, history, run
from benchmarks.render.markdown import MINUS, TIMES, RegionError, percent_change, replace_regions

FIXTURE = Path(__file__).parent / "bench_docs" / "bench-20261206T230251Z.json"
STEM = FIXTURE.stem
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return loaded


def _table_rows(markdown: str) -> list[list[str]]:
    """The body rows of the first table in ``markdown``, as cells."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]


def test_results_show_each_system_and_load_once_with_the_median_of_its_rounds(
    doc: dict[str, Any],
) -> None:
    rounds = [r for r in doc["results"] if (r["system"], r["load"]) == ("kafkarpc", 256)]
    rounds[0]["p95_ms"], rounds[1]["p95_ms"], rounds[2]["p95_ms"] = 50.0, 90.0, 70.0
    rounds[2]["cpu"]["client_us"] = 1000.0
    rows = _table_rows(run.results(doc))
    levels = [(r[0], r[1]) for r in rows]
    assert len(levels) == len(set(levels)) == 12
    kafkarpc_256 = next(r for r in rows if r[:2] == ["kafkarpc", "256"])
    # Each figure is its own median: 6,120.3 of 6,120.3 / 6,344.7 / 5,871.0 requests/s,
    # 70 of 50 / 90 / 70 ms p95, as the targets judge them.
    assert kafkarpc_256[3] == "70.00"
    assert kafkarpc_256[5] == "6,120"
    cpu_rows = _table_rows(run.cpu(doc))
    assert next(r for r in cpu_rows if r[:2] == ["kafkarpc", "256"])[2] == "60"


def test_a_failed_round_counts_for_no_figure(doc: dict[str, Any]) -> None:
    rounds = [r for r in doc["results"] if (r["system"], r["load"]) == ("raw", 256)]
    rounds[0].update(failure="responder crashed", throughput_rps=None, errors=512)
    row = next(r for r in run.level_rows(doc) if (r["system"], r["load"]) == ("raw", 256))
    # 6,511.2 and 7,480.9 are left.
    assert row["throughput_rps"] == pytest.approx((6511.2 + 7480.9) / 2)
    assert "raw at 256 in flight (round 1): the level failed: 512 of 512" in run.results(doc)


def test_rounds_list_every_round_and_their_median(doc: dict[str, Any]) -> None:
    rows = _table_rows(run.rounds(doc))
    assert ["raw", "256", "7,012", "6,511", "7,481", "**7,012**"] in rows
    assert {r[0] for r in rows} == {"raw", "handrolled", "kafkarpc"}


def test_a_run_of_single_rounds_says_so(doc: dict[str, Any]) -> None:
    doc["results"] = [r for r in doc["results"] if r["round"] == 1]
    assert run.rounds(doc) == "This run measured one round per load."
    assert "rounds" not in run.method(doc, STEM)


def test_the_cpu_bound_is_computed_from_the_cores_and_the_cpu_per_request(
    doc: dict[str, Any],
) -> None:
    text = run.cpu(doc)
    row = next(r for r in doc["results"] if (r["system"], r["load"]) == ("kafkarpc", 1024))
    total = sum(row["cpu"].values())
    assert "2 cores give 2,000,000 µs of CPU a second" in text
    assert f"at most {2_000_000 / total:,.0f} requests/s" in text


def test_levels_with_errors_are_named_and_a_clean_run_says_it_had_none(
    doc: dict[str, Any],
) -> None:
    assert "handrolled at 1024 in flight: 3 of 2,048 requests failed." in run.results(doc)
    for row in doc["results"]:
        row["errors"] = 0
    assert "No level had an error or a timeout." in run.results(doc)


def test_targets_are_marked_met_not_met_or_not_measured(doc: dict[str, Any]) -> None:
    text = run.targets(doc)
    verdicts = {r[0]: r[3] for r in _table_rows(text)}
    assert verdicts["latency: p95 at 1 in flight"] == "met"
    assert verdicts["throughput at 256 in flight vs raw (median of 3 rounds)"] == "**not met**"
    assert verdicts["clients: reply-side CPU per call of one client, 16 clients vs 1"] == (
        "not measured"
    )
    assert len(verdicts) == len(doc["targets"])
    assert "4 of the 9 targets this run measured are met." in text


def test_ratios_keep_a_round_column_only_when_rows_have_rounds(doc: dict[str, Any]) -> None:
    assert "| round |" not in run.ratios(doc)
    doc["ratios"] = [r | {"round": 2} for r in doc["ratios"]]
    assert "| in flight | round |" in run.ratios(doc)
    assert f"1.03{TIMES}" in run.ratios(doc)


def test_the_method_names_the_commit_rounds_and_the_json(doc: dict[str, Any]) -> None:
    text = run.method(doc, STEM)
    assert "commit `9a756dd`" in text
    assert "At 256 in flight every system ran 3 rounds" in text
    assert f"`benchmarks/results/{STEM}.json`" in text
    assert "quick run" not in text
    doc["meta"]["quick"] = True
    assert "This was a quick run" in run.method(doc, STEM)


def test_the_library_cpu_of_the_run_follows_the_cpu_table(doc: dict[str, Any]) -> None:
    assert "client 38.2 µs, responder 61.7 µs" in run.cpu(doc)
    del doc["library_cpu"]
    assert "benchmarks/hotpath.py" not in run.cpu(doc)


def test_every_curve_is_rendered_with_its_plot_only_when_the_png_exists(
    doc: dict[str, Any],
) -> None:
    with_plot = curves.curves(doc["curves"], stem=STEM, root="../", plots={f"{STEM}-payload.png"})
    titles = [line for line in with_plot.splitlines() if line.startswith("### ")]
    assert titles == [
        "### Payload size",
        "### Operations served by one server",
        "### Clients sharing reply topics",
        "### Responder processes",
    ]
    assert f'src="../benchmarks/results/{STEM}-payload.png"' in with_plot
    assert with_plot.count("<img") == 1
    assert "<img" not in curves.curves(doc["curves"], stem=STEM, root="", plots=set())


def test_each_curve_shows_the_cost_that_should_stay_flat(doc: dict[str, Any]) -> None:
    text = curves.curves(doc["curves"], stem=STEM, root="", plots=set())
    # Payload: MB/s of both systems and their ratio, and the call over the limit.
    assert "| 512 KB | 63.33 | 55.47 | 0.88x | 310.2 | 355.0 | 0 |" in text
    assert "| request over the limit | 1,048,576 | `PayloadTooLarge` | 0.4 |" in text
    # Operations: throughput next to the raw loop's, and the server's memory per count.
    throughput = "| 200 | 600 | 4,980 | 5,500 | 0.91x |"
    assert f"{throughput} 9.1 | 14.2 | 9.8 | 71.4 | 74.6 | 97 | 101 | 0 |" in text
    # Clients: CPU per call per configuration; a failed level says so.
    assert "| 16 | 212 | 15.0 | failed |  |" in text
    assert '- `auto` (recommended): Topics(reply_partition="auto")' in text
    # Workers: the medians, every round, and the speedup.
    assert "| 2 | 702 | 690, 702, 712 | 41.3 | 60.0 | 2.02 | 430 | 2 | 0 |" in text
    assert "Two workers against one: 1.71x (rounds: 1.70x, 1.71x, 1.71x)." in text


def test_a_curve_of_another_shape_is_rendered_generically(doc: dict[str, Any]) -> None:
    # The workers view needs "points"; a curve dict without it still shows its numbers.
    changed = {"workers": {"per_count": [{"workers": 1, "rps": 410.2}], "cores": 2}}
    text = curves.curves(changed, stem=STEM, root="", plots=set())
    assert "### Responder processes" in text
    assert "| workers | rps |" in text
    assert "| 1 | 410 |" in text
    assert "- cores: 2" in text
    failed = curves.curves(
        {"payload": {"failure": "Traceback ...\nRuntimeError: broker gone\n"}},
        stem=STEM,
        root="",
        plots=set(),
    )
    assert (
        failed == "### Payload size\n\nThis curve failed in this run: `RuntimeError: broker gone`."
    )
    unknown = curves.curves({"zeta": {"rows": [{"a_ms": 1.5}]}}, stem=STEM, root="", plots=set())
    assert unknown.startswith("### zeta\n\n| a ms |")


def test_readme_summary_has_the_figures_the_verdicts_and_the_link(doc: dict[str, Any]) -> None:
    text = run.summary(doc, STEM, "docs/benchmarks.md")
    assert "[docs/benchmarks.md](docs/benchmarks.md)" in text
    assert "| 256 | **kafkarpc** | 32.1 | 58.9 | 6,120 | 166 |" in text
    assert (
        "| throughput at 256 in flight vs hand-rolled (median of 3 rounds) | >= 1.5x handrolled"
        " | **not met** |" in text
    )
    assert text.endswith("4 of the 9 targets this run measured are met.")


def test_history_sentences_are_computed_from_their_rows() -> None:
    data = json.loads((ROOT / "benchmarks/results/history.json").read_text(encoding="utf-8"))
    data["soak"]["samples"] = [
        {"requests": 0, "rss_mb": 50.0},
        {"requests": 10_000, "rss_mb": 51.0},
        {"requests": 20_000, "rss_mb": 53.5},
    ]
    assert (
        "grew by 3.5 MB after warm-up: 1.0 MB in the first 10,000 requests and 2.5 MB over "
        "the next 10,000." in history.soak(data)
    )
    eos = history.exactly_once(data)
    assert "at 1 in flight p50 +2.8 ms" in eos
    assert f"requests/s {MINUS}24%" in eos
    assert percent_change(182_041, 184_010) == "+1.1%"
    assert f"| change | +1.1% | {MINUS}1.0% |" in history.redesign(data)


def test_only_the_named_regions_are_replaced() -> None:
    page = (
        "a\n<!-- bench:one -->\nold\n<!-- /bench:one -->\n"
        "b\n<!-- bench:two -->\nkept\n<!-- /bench:two -->\n"
    )
    assert replace_regions(page, {"one": "new"}) == page.replace("old", "new")
    with pytest.raises(RegionError, match="unpaired"):
        replace_regions("<!-- bench:one -->\nno end\n", {"one": "x"})


def _site(tmp_path: Path) -> Path:
    """A copy of the repository's pages and history, with the fixture as its only run."""
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    for page in PAGES:
        (tmp_path / page.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / page.path, tmp_path / page.path)
    shutil.copy(ROOT / "benchmarks/results/history.json", results)
    shutil.copy(FIXTURE, results)
    return tmp_path


def test_check_passes_after_rendering_and_fails_on_a_changed_number(tmp_path: Path) -> None:
    root = _site(tmp_path)
    assert main(["--root", str(root)]) == 0
    assert main(["--root", str(root), "--check"]) == 0
    docs = root / "docs/benchmarks.md"
    text = docs.read_text(encoding="utf-8")
    assert "| kafkarpc | 256 | 32.08 |" in text
    docs.write_text(text.replace("| kafkarpc | 256 | 32.08 |", "| kafkarpc | 256 | 30.00 |"))
    assert main(["--root", str(root), "--check"]) == 1


def test_check_fails_when_the_json_changes_under_the_pages(tmp_path: Path) -> None:
    root = _site(tmp_path)
    assert main(["--root", str(root)]) == 0
    path = root / "benchmarks/results" / FIXTURE.name
    changed = copy.deepcopy(json.loads(path.read_text(encoding="utf-8")))
    changed["targets"][1]["met"] = True
    path.write_text(json.dumps(changed))
    assert main(["--root", str(root), "--check"]) == 1


def test_a_region_nothing_renders_is_refused(tmp_path: Path) -> None:
    root = _site(tmp_path)
    readme = root / "README.md"
    readme.write_text(readme.read_text() + "\n<!-- bench:nonsense -->\n<!-- /bench:nonsense -->\n")
    assert main(["--root", str(root)]) == 2
