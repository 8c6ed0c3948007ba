"""Markdown building blocks: numbers, tables, and the generated regions of a page."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

__all__ = [
    "EN_DASH",
    "MINUS",
    "TIMES",
    "RegionError",
    "cell",
    "num",
    "percent_change",
    "region_names",
    "replace_regions",
    "signed",
    "table",
]

Cell = str | int | float | None
# Typography the pages use, spelled as escapes so the source stays plain ASCII.
EN_DASH = "\u2013"
MINUS = "\u2212"
TIMES = "\u00d7"


def num(value: float | None, digits: int = 0) -> str:
    """``1,234`` or ``6.53``; an en dash for a figure the run does not have."""
    if value is None:
        return EN_DASH
    return f"{value:,.{digits}f}"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def cell(value: object) -> str:
    """A table cell from a JSON value, numbers at a precision their size calls for."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        magnitude = abs(value)
        digits = 0 if magnitude >= 100 else 1 if magnitude >= 10 else 2
        return num(value, digits)
    if isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value):
        # A measured range, [low, high].
        return f"{cell(value[0])}{EN_DASH}{cell(value[1])}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def signed(value: float, digits: int = 1, unit: str = "") -> str:
    """``+2.8 ms`` or, with a real minus sign, ``-0.3 ms``."""
    sign = "+" if value >= 0 else MINUS
    return f"{sign}{abs(value):,.{digits}f}{unit}"


def percent_change(before: float, after: float) -> str:
    """``+1.1%`` / ``-24%``: one decimal below ten percent, none above."""
    change = (after - before) / before * 100
    return signed(change, 1 if abs(change) < 10 else 0, "%")


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], numeric: Sequence[bool]) -> str:
    """A markdown table; ``numeric`` right-aligns a column."""
    align = ["---:" if right else "---" for right in numeric]
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(align) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(v if isinstance(v, str) else cell(v) for v in row) + " |")
    return "\n".join(lines)


class RegionError(ValueError):
    """A page's markers are broken, or name a region nothing renders."""


_REGION = re.compile(
    r"(?P<open><!-- bench:(?P<name>[\w:-]+) -->\n)(?P<body>.*?)"
    r"(?P<close><!-- /bench:(?P=name) -->)",
    re.DOTALL,
)
_OPEN = re.compile(r"<!-- bench:([\w:-]+) -->")


def region_names(text: str) -> list[str]:
    """The generated regions of a page, in order; a marker without its pair is an error."""
    names = [m.group("name") for m in _REGION.finditer(text)]
    opened = _OPEN.findall(text)
    if sorted(opened) != sorted(names):
        unpaired = sorted(set(opened) - set(names)) or sorted(opened)
        raise RegionError(f"unpaired or nested <!-- bench:... --> markers: {unpaired}")
    if len(set(names)) != len(names):
        raise RegionError(f"a region appears twice: {names}")
    return names


def replace_regions(text: str, bodies: Mapping[str, str]) -> str:
    """``text`` with each named region's body replaced; regions not in ``bodies`` stay."""
    region_names(text)

    def body(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in bodies:
            return match.group(0)
        return f"{match.group('open')}{bodies[name].strip()}\n{match.group('close')}"

    return _REGION.sub(body, text)
