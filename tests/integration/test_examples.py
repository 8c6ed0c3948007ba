"""Every example runs as a newcomer would run it: its own process, its own broker, exit 0."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.broker

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_RUN_S = 45.0

# `kafkarpc demo` is the quick start shipped in the package: it must print the same.
QUICKSTART_OUTPUT = [
    r"broker: 127\.0\.0\.1:\d+",
    r"reply: \{'agent': 'agent-performance', 'confidence': 0\.92\}",
]

# script -> a pattern for each line of its stdout (the library's wording is left open)
EXPECTED_OUTPUT = {
    "quickstart.py": QUICKSTART_OUTPUT,
    "typed_models.py": [
        r"quote: Quote\(sku='widget', quantity=4, total_cents=1000\)",
        r"rejected \{'sku': 'widget', 'quantity': 0\}: VALIDATION_ERROR: .+",
        r"  quantity: .+",
        r"rejected \{'sku': 'sprocket', 'quantity': 1\}: NOT_FOUND: no price for sprocket",
    ],
    "subscribers.py": [
        r"audit shop\.audit\.login: \{'user': 'ada'\}",
        r"reserved o-1 \(1200 cents\) for shop",
        r"parked \(invalid_payload\): \{'order_id': 'o-2'\}",
    ],
    "hyphen_trio.py": [
        r"responder got CODE_ANALYSIS_REQUESTED on "
        r"dev\.archon-intelligence\.intelligence\.code-analysis-requested\.v1",
        r"reply on dev\.archon-intelligence\.intelligence\.code-analysis-completed\.v1: "
        r"\{'language': 'python', 'lines': 2\}",
    ],
    "scatter_gather.py": [
        r"complete: True",
        r"quotes: \[\('fastship', 1200\), \('parcelco', 700\)\]",
        r"failed: nowhere: HANDLER_ERROR: nowhere does not ship to Lisbon",
    ],
    "streaming.py": [
        rf"q3-sales: {percent}% section {n} of 4"
        for n, percent in ((1, 25), (2, 50), (3, 75), (4, 100))
    ],
    "blocking_patterns.py": [
        r"widget stock: 13 in \['north', 'south'\]",
        r"picked line 1: widget",
        r"picked line 2: gadget",
    ],
    # One per wire profile (docs/profiles/): each side of each is configured as shown there.
    "wire_nestjs.py": [r"reply: \{'cents': 450\}", r"error: units must be > 0"],
    "wire_spring.py": [r"reply: \{'cents': 250\}", r"error: no price for sprocket"],
    "wire_payload_correlated.py": [r"output: \{'stdout': 'hi', 'stderr': ''\}"],
    "wire_custom.py": [r"add: \{'sum': 6\}"],
}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=EXAMPLES.parent,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=_RUN_S,
        check=False,
    )


def _assert_output(stdout: str, patterns: list[str]) -> None:
    lines = stdout.splitlines()
    assert len(lines) == len(patterns), stdout
    for line, pattern in zip(lines, patterns, strict=True):
        assert re.fullmatch(pattern, line), f"{line!r} does not match {pattern!r}"


@pytest.mark.parametrize(("script", "expected"), EXPECTED_OUTPUT.items(), ids=list(EXPECTED_OUTPUT))
def test_example_runs_and_prints_its_result(script: str, expected: list[str]) -> None:
    result = _run(str(EXAMPLES / script))

    assert result.returncode == 0, result.stderr
    _assert_output(result.stdout, expected)


def test_every_example_is_tested() -> None:
    assert {path.name for path in EXAMPLES.glob("*.py")} == set(EXPECTED_OUTPUT)


def test_kafkarpc_demo_prints_what_the_quickstart_prints() -> None:
    # The demo is what a newcomer copies: it must not use kafkarpc's deprecated keywords.
    result = _run("-W", "error:kafkarpc.:DeprecationWarning", "-m", "kafkarpc", "demo")

    assert result.returncode == 0, result.stderr
    _assert_output(result.stdout, QUICKSTART_OUTPUT)
