"""The PNG: one panel per latency percentile plus throughput, one line per system."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.curves.registry import load_curve
from benchmarks.stats import LevelResult

__all__ = ["write_curve_plots", "write_plot"]

# (metric, axis label, log y): latency spans 5 ms to seconds across loads, so a
# linear axis would flatten every low-load difference to nothing.
_PANELS = (
    ("p50_ms", "p50 latency (ms)", True),
    ("p95_ms", "p95 latency (ms)", True),
    ("p99_ms", "p99 latency (ms)", True),
    ("throughput_rps", "throughput (requests/s)", False),
)
# Fixed colours and order, so a system looks the same in every plot.
_STYLE = {
    "raw": "tab:gray",
    "handrolled": "tab:orange",
    "kafkarpc": "tab:blue",
    "kafkarpc-eos": "tab:green",
}


_NO_MATPLOTLIB = "matplotlib is not installed (pip install matplotlib); plot skipped"


def _pyplot() -> Any:
    """matplotlib's pyplot on a display-less backend, or None when not installed."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")  # no display needed; must precede importing pyplot
    import matplotlib.pyplot as plt

    return plt


def write_curve_plots(stem: Path, measured: dict[str, dict[str, Any]]) -> list[Path] | str:
    """One PNG per measured curve, ``<stem>-<curve>.png``; or why none was written."""
    plt = _pyplot()
    if plt is None:
        return _NO_MATPLOTLIB
    written: list[Path] = []
    for name, data in measured.items():
        if "failure" in data:
            continue
        curve = load_curve(name)
        figure, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
        curve.plot(ax, data)
        ax.set_title(curve.title)
        ax.grid(True, which="major", alpha=0.3)
        path = stem.with_name(f"{stem.name}-{name}.png")
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)
    return written


def write_plot(path: Path, results: Sequence[LevelResult], title: str) -> str | None:
    """Write the plot; return why it was skipped, or None when written."""
    plt = _pyplot()
    if plt is None:
        return _NO_MATPLOTLIB

    present = {r.system for r in results}
    systems = [s for s in _STYLE if s in present] + sorted(present - _STYLE.keys())
    loads = sorted({r.load for r in results})
    figure, axes = plt.subplots(2, 2, figsize=(11, 8), constrained_layout=True)
    for ax, (metric, label, log_y) in zip(axes.flat, _PANELS, strict=True):
        for system in systems:
            # Loads measured in several rounds are drawn at their median.
            by_load: dict[int, list[float]] = {}
            for r in results:
                if r.system == system and (value := getattr(r, metric)) is not None:
                    by_load.setdefault(r.load, []).append(value)
            points = sorted((load, statistics.median(vs)) for load, vs in by_load.items())
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o", label=system, color=_STYLE.get(system))
        ax.set_xscale("log", base=2)
        if log_y:
            ax.set_yscale("log")
        ax.set_xticks(loads, [str(load) for load in loads])
        ax.set_xlabel("requests in flight")
        ax.set_ylabel(label)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend()
    figure.suptitle(title)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return None
