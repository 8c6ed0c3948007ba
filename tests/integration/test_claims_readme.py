"""README's "What it guarantees" table names, for every row, real-broker tests that exist.

The table says each claim is exercised against the real broker; a renamed or
deleted test would leave a row pointing at nothing, so this reads the table and
looks every named test up in ``tests/integration/``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

HERE = Path(__file__).parent
README = HERE.parents[1] / "README.md"
NAMED = re.compile(r"`(test_\w+\.py)::(test_\w+)`")


def _claim_rows() -> dict[str, str]:
    """Claim (the bold first cell) -> its row, for the rows of the table."""
    text = README.read_text(encoding="utf-8")
    table = text.split("## What it guarantees", 1)[1].split("\n\n", 2)[1]
    rows: dict[str, str] = {}
    for line in table.splitlines():
        claim = re.match(r"\| \*\*(.+?)\*\* \|", line)
        if claim:
            rows[claim.group(1)] = line
    return rows


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_every_claim_names_real_broker_tests_that_exist() -> None:
    rows = _claim_rows()
    assert len(rows) == 9, f"the table's rows changed: {sorted(rows)}"
    for claim, row in rows.items():
        named = NAMED.findall(row.rsplit("|", 2)[1])  # the last cell only
        assert named, f"{claim!r} names no test"
        for filename, function in named:
            path = HERE / filename
            assert path.is_file(), f"{claim!r}: no {path}"
            assert function in _test_functions(path), f"{claim!r}: no {filename}::{function}"
