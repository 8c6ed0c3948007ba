"""The run's curves (``curves`` in its JSON): a table per curve and its plot.

Each curve module (benchmarks/curves/) decides its own dict. The generic rendering
needs nothing from it beyond JSON: every list of row dicts becomes a table (nested
dicts flattened one level, ``cpu.client_us``), every other top-level value a line
under it. The four curves of issue 15 have their own views (curve_views.py),
registered in ``RENDERERS``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from benchmarks.render.curve_views import VIEWS
from benchmarks.render.markdown import Cell, cell, table

__all__ = ["RENDERERS", "curve_section", "curves", "flatten", "generic"]

Curve = Mapping[str, Any]

# The order the pages show them in; a curve not named here comes after, by name.
ORDER = ("payload", "operations", "clients", "workers")
TITLES = {
    "payload": "Payload size",
    "operations": "Operations served by one server",
    "clients": "Clients sharing reply topics",
    "workers": "Responder processes",
}


def flatten(row: Mapping[str, Any]) -> dict[str, Any]:
    """One level of nesting folded into dotted keys; lists become their length."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, Mapping):
            for inner, leaf in value.items():
                flat[f"{key}.{inner}"] = leaf
        else:
            flat[key] = value
    return flat


# Unit suffixes of JSON keys, as a reader writes them.
_UNITS = (("_per_s", "/s"), ("_rps", " req/s"), ("_ms", " ms"), ("_us", " µs"), ("_mb", " MB"))


def _header(key: str) -> str:
    for suffix, unit in _UNITS:
        if key.endswith(suffix):
            key = key[: -len(suffix)] + unit
    return key.replace("_", " ").replace("mb/s", "MB/s")


def _rows_table(rows: Sequence[Mapping[str, Any]]) -> str:
    flat = [flatten(r) for r in rows]
    columns: list[str] = []
    for row in flat:
        columns += [k for k, v in row.items() if k not in columns and not isinstance(v, list)]
    numeric = [
        all(isinstance(r.get(c), int | float) or r.get(c) is None for r in flat) for c in columns
    ]
    body: list[list[Cell]] = [[cell(r.get(c)) for c in columns] for r in flat]
    return table([_header(c) for c in columns], body, numeric)


def _is_rows(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def generic(data: Curve) -> str:
    """Tables for the row lists, then ``key: value`` for the rest."""
    parts: list[str] = []
    facts: list[str] = []
    for key, value in data.items():
        if key == "title":
            continue
        if _is_rows(value):
            parts.append(_rows_table(value))
        elif isinstance(value, Mapping):
            inner = ", ".join(f"{_header(k)} {cell(v)}" for k, v in flatten(value).items())
            facts.append(f"- {_header(key)}: {inner}")
        else:
            facts.append(f"- {_header(key)}: {cell(value)}")
    if facts:
        parts.append("\n".join(facts))
    return "\n\n".join(parts)


RENDERERS: dict[str, Callable[[Curve], str]] = dict(VIEWS)
"""Per-curve renderings that replace ``generic``, keyed by curve name."""


def _image(root: str, stem: str, name: str, plots: Collection[str]) -> str:
    for filename in (f"{stem}-{name}.png",):
        if filename in plots:
            # Raw HTML: the site build checks Markdown links only, and the plot lives
            # outside docs/ (GitHub shows it; the site leaves it to the repository).
            return f'<img src="{root}benchmarks/results/{filename}" alt="{name} curve" width="720">'
    return ""


def curve_section(
    name: str, data: Curve, *, stem: str, root: str, plots: Collection[str], level: str = "###"
) -> str:
    title = str(data.get("title") or TITLES.get(name) or name)
    if "failure" in data:
        # benchmarks/curves/runner.py keeps a crashed curve's traceback instead of its data.
        lines = str(data["failure"]).strip().splitlines()
        body = f"This curve failed in this run: `{lines[-1] if lines else 'no reason recorded'}`."
        return f"{level} {title}\n\n{body}"
    try:
        body = RENDERERS.get(name, generic)(data)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        # The curve's dict changed shape: show all of it rather than nothing.
        body = generic(data)
    image = _image(root, stem, name, plots)
    return "\n\n".join(p for p in (f"{level} {title}", body, image) if p)


def curves(
    all_curves: Mapping[str, Curve] | None, *, stem: str, root: str, plots: Collection[str]
) -> str:
    if not all_curves:
        return "This run measured no curves."
    names = [n for n in ORDER if n in all_curves] + sorted(set(all_curves) - set(ORDER))
    return "\n\n".join(
        curve_section(n, all_curves[n], stem=stem, root=root, plots=plots) for n in names
    )
