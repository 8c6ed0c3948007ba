"""docs/benchmarks.md and README's Performance section quote only numbers the JSON holds.

Issue 15: every number the pages quote comes from JSON committed under
``benchmarks/results/`` (the newest ``kafkarpc bench`` run git tracks, and
``history.json``), rendered by ``python -m benchmarks.docs``. These tests fail when a
page and the JSON disagree, and when prose outside the generated regions carries a
figure typed by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

from benchmarks.docs import HISTORY_REGIONS, PAGES, RUN_REGIONS, main, newest_run
from benchmarks.render.markdown import region_names

ROOT = Path(__file__).resolve().parents[2]
# Names that contain digits without quoting a measurement.
_NOT_FIGURES = re.compile(r"\bp(?:50|95|99)\b|\bissue \d+\b|SPEC §\d+|\bPython 3\.\d+\b")


def _prose(text: str) -> str:
    """The text a reader reads as prose: no generated region, code, comment or link target."""
    text = re.sub(r"<!-- bench:([\w:-]+) -->.*?<!-- /bench:\1 -->", "", text, flags=re.DOTALL)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    text = re.sub(r"`[^`\n]*`", "", text)
    return re.sub(r"\]\([^)]*\)", "]", text)


def _performance_section(readme: str) -> str:
    return readme.split("\n## Performance\n", 1)[1].split("\n## ", 1)[0]


def test_the_pages_match_the_committed_json() -> None:
    # The history's regions always; the run's as soon as a bench-*.json is committed.
    assert main(["--check"]) == 0, "run python -m benchmarks.docs and commit the pages"


def test_the_docs_are_rendered_from_the_newest_committed_run() -> None:
    run = newest_run(ROOT, committed=True)
    docs = (ROOT / "docs/benchmarks.md").read_text(encoding="utf-8")
    if run is None:
        # Before the first reported run is committed the regions keep earlier text;
        # the check above takes them over the moment one is.
        assert "<!-- bench:results -->" in docs
    else:
        assert f"`benchmarks/results/{run.stem}.json`" in docs


def test_every_rendered_region_has_its_place_on_a_page() -> None:
    placed: set[str] = set()
    for page in PAGES:
        placed |= set(region_names((ROOT / page.path).read_text(encoding="utf-8")))
    assert placed == set(HISTORY_REGIONS) | set(RUN_REGIONS)


def test_prose_outside_the_generated_regions_quotes_no_figure() -> None:
    docs = (ROOT / "docs/benchmarks.md").read_text(encoding="utf-8")
    readme = _performance_section((ROOT / "README.md").read_text(encoding="utf-8"))
    typed = [
        f"{name}: {line.strip()}"
        for name, text in (("docs/benchmarks.md", docs), ("README Performance", readme))
        for line in _prose(text).splitlines()
        if re.search(r"\d", _NOT_FIGURES.sub("", line))
    ]
    assert not typed, "numbers typed by hand; put them in benchmarks/results/*.json:\n" + "\n".join(
        typed
    )


def test_readme_performance_is_the_generated_summary() -> None:
    readme = _performance_section((ROOT / "README.md").read_text(encoding="utf-8"))
    assert region_names(readme) == ["summary"]
