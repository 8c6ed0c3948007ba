"""Write the benchmark's numbers into docs/benchmarks.md and README.md, from JSON only.

``python -m benchmarks.docs`` (from the root of a clone) renders every generated
region of the two pages, the text between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->``, and leaves the rest alone:

* the run's regions from one ``kafkarpc bench`` result, ``--json PATH`` or else the
  newest ``benchmarks/results/bench-*.json``; its plots are the PNGs beside it
  with the same stem (``<stem>.png``, ``<stem>-<curve>.png``);
* the history's regions from ``benchmarks/results/history.json``.

``--check`` writes nothing and exits 1 when a page differs from what the JSON
renders. Without ``--json`` it checks against the newest result git tracks, so a
local run you have not committed does not count. With no result at all, only the
history's regions are rendered or checked.
"""

from __future__ import annotations

import argparse
import difflib
import json
import subprocess
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.render import curves as curve_render
from benchmarks.render import history as hist
from benchmarks.render import run as run_render
from benchmarks.render.markdown import RegionError, region_names, replace_regions

__all__ = [
    "HISTORY_REGIONS",
    "PAGES",
    "RUN_REGIONS",
    "Page",
    "check",
    "main",
    "newest_run",
    "render_pages",
]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path("benchmarks/results")
HISTORY = RESULTS / "history.json"


@dataclass(frozen=True, slots=True)
class Page:
    path: Path
    """Relative to the repository root."""
    root: str
    """The repository root as a relative link from the page."""
    docs_link: str
    """docs/benchmarks.md as a link from the page."""


PAGES = (
    Page(Path("docs/benchmarks.md"), root="../", docs_link="benchmarks.md"),
    Page(Path("README.md"), root="", docs_link="docs/benchmarks.md"),
)

HISTORY_REGIONS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "earlier-runs": hist.earlier_runs,
    "soak": hist.soak,
    "exactly-once": hist.exactly_once,
    "levers": hist.levers,
    "instructions": hist.instructions,
    "redesign": hist.redesign,
    "bisect": hist.bisect,
    "tried": hist.tried,
    "importtime": hist.importtime,
}
RUN_REGIONS = (
    "method",
    "results",
    "cpu",
    "rounds",
    "ratios",
    "targets",
    "curves",
    "conversations",
    "summary",
)


def _main_plot(root: str, stem: str, plots: Collection[str]) -> str:
    if f"{stem}.png" not in plots:
        return ""
    # Raw HTML: mkdocs checks Markdown links only, and the plot lives outside docs/.
    return (
        f'\n\n<img src="{root}benchmarks/results/{stem}.png" '
        'alt="latency and throughput by requests in flight" width="720">'
    )


def run_bodies(
    doc: Mapping[str, Any], *, stem: str, page: Page, plots: Collection[str]
) -> dict[str, str]:
    """Every run region's markdown, for one page."""
    return {
        "method": run_render.method(doc, stem),
        "results": run_render.results(doc) + _main_plot(page.root, stem, plots),
        "cpu": run_render.cpu(doc),
        "rounds": run_render.rounds(doc),
        "ratios": run_render.ratios(doc),
        "targets": run_render.targets(doc),
        "curves": curve_render.curves(doc.get("curves"), stem=stem, root=page.root, plots=plots),
        "conversations": run_render.conversations(doc),
        "summary": run_render.summary(doc, stem, page.docs_link),
    }


def history_bodies(history: Mapping[str, Any]) -> dict[str, str]:
    return {name: render(history) for name, render in HISTORY_REGIONS.items()}


@dataclass(frozen=True, slots=True)
class Run:
    doc: Mapping[str, Any]
    stem: str
    plots: frozenset[str]

    @classmethod
    def load(cls, path: Path) -> Run:
        plots = frozenset(p.name for p in path.parent.glob(f"{path.stem}*.png"))
        return cls(json.loads(path.read_text(encoding="utf-8")), path.stem, plots)


def render_pages(
    texts: Mapping[Path, str], history: Mapping[str, Any], run: Run | None
) -> dict[Path, str]:
    """Each page's text with its regions rendered; a region nothing renders is an error."""
    by_path = {page.path: page for page in PAGES}
    rendered: dict[Path, str] = {}
    for path, text in texts.items():
        bodies = history_bodies(history)
        if run is not None:
            bodies |= run_bodies(run.doc, stem=run.stem, page=by_path[path], plots=run.plots)
        unknown = set(region_names(text)) - set(HISTORY_REGIONS) - set(RUN_REGIONS)
        if unknown:
            raise RegionError(f"{path}: nothing renders the regions {sorted(unknown)}")
        rendered[path] = replace_regions(text, bodies)
    return rendered


def _tracked_runs(root: Path) -> list[Path] | None:
    """The results git tracks, or None outside a git checkout."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "--", f"{RESULTS}/bench-*.json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return None
    return [root / name for name in listed]


def newest_run(root: Path, *, committed: bool) -> Path | None:
    """The newest ``bench-*.json`` (their names sort by time); only tracked ones if asked."""
    candidates = _tracked_runs(root) if committed else None
    if candidates is None:
        candidates = list((root / RESULTS).glob("bench-*.json"))
    existing = sorted(p for p in candidates if p.is_file())
    return existing[-1] if existing else None


def check(root: Path, rendered: Mapping[Path, str]) -> list[str]:
    """A diff per page that differs from its rendering; empty when all agree."""
    problems = []
    for path, text in rendered.items():
        current = (root / path).read_text(encoding="utf-8")
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(),
                text.splitlines(),
                str(path),
                f"{path} (rendered)",
                lineterm="",
            )
            problems.append("\n".join(diff))
    return problems


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.docs", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--json", type=Path, help="a kafkarpc bench result (default: the newest)")
    parser.add_argument("--history", type=Path, help=f"default: {HISTORY}")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository root")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on a mismatch")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    root: Path = args.root
    history = json.loads((args.history or root / HISTORY).read_text(encoding="utf-8"))
    source = args.json or newest_run(root, committed=args.check)
    run = Run.load(source) if source is not None else None
    if run is None:
        print("no benchmarks/results/bench-*.json: only the history's regions", file=sys.stderr)
    texts = {page.path: (root / page.path).read_text(encoding="utf-8") for page in PAGES}
    try:
        rendered = render_pages(texts, history, run)
    except RegionError as exc:
        print(f"cannot render: {exc}", file=sys.stderr)
        return 2
    if args.check:
        problems = check(root, rendered)
        for problem in problems:
            print(problem)
        if problems:
            print(
                "\nthe pages differ from the JSON: run python -m benchmarks.docs"
                + (f" --json {source}" if args.json else ""),
                file=sys.stderr,
            )
        return 1 if problems else 0
    for path, text in rendered.items():
        (root / path).write_text(text, encoding="utf-8")
    print(f"rendered {', '.join(str(p) for p in rendered)} from {source or HISTORY}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
