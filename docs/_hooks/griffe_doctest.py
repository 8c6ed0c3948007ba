"""Griffe extension for the API reference: doctest examples become code blocks.

kafkarpc's docstrings show short examples as doctest lines (``>>> ...``) in plain
prose, where Markdown would render them as nested block quotes. This turns each run
of lines that starts with ``>>>`` (up to the next blank line) into a ``pycon`` fence
and drops doctest flags such as ``# doctest: +SKIP``. Used by mkdocs.yml only.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_FLAGS = re.compile(r"\s*#\s*doctest:.*$")


def fence_doctests(text: str) -> str:
    out: list[str] = []
    indent: str | None = None  # the current block's indentation, or None outside one
    for line in text.splitlines():
        stripped = line.lstrip()
        if indent is None and stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            out.append(f"{indent}```pycon")
        elif indent is not None and not stripped:
            out.append(f"{indent}```")
            indent = None
        if indent is not None:
            out.append(_FLAGS.sub("", line))
        else:
            out.append(line)
    if indent is not None:
        out.append(f"{indent}```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        docstring = obj.docstring
        if docstring is not None and ">>>" in docstring.value:
            docstring.value = fence_doctests(docstring.value)
