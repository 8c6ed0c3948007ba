"""The PNG: one panel per latency percentile plus throughput, one line per system."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from benchmarks.stats import LevelResult

__all__ = ["write_plot"]

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


def write_plot(path: Path, results: Sequence[LevelResult], title: str) -> str | None:
    """Write the plot; return why it was skipped, or None when written."""
    try:
        import matplotlib
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib); plot skipped"
    matplotlib.use("Agg")  # no display needed; must precede importing pyplot
    import matplotlib.pyplot as plt

    present = {r.system for r in results}
    systems = [s for s in _STYLE if s in present] + sorted(present - _STYLE.keys())
    loads = sorted({r.load for r in results})
    figure, axes = plt.subplots(2, 2, figsize=(11, 8), constrained_layout=True)
    for ax, (metric, label, log_y) in zip(axes.flat, _PANELS, strict=True):
        for system in systems:
            points = sorted(
                (r.load, value)
                for r in results
                if r.system == system and (value := getattr(r, metric)) is not None
            )
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
