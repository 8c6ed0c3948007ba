"""The documentation site builds with ``mkdocs build --strict``, as CI and readers build it.

Strict mode turns every warning into a failure: a broken link or anchor, a page
missing from the nav, an API reference entry that no longer resolves. The build
needs no network (no web fonts, no plugins that fetch).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 50


@pytest.mark.timeout(BUILD_TIMEOUT_S + 5)
def test_mkdocs_build_is_strictly_clean(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed; pip install -e '.[docs]' to build the docs")
    site = tmp_path / "site"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(site),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}{result.stderr}"
    assert (site / "index.html").is_file()
    assert (site / "reference" / "index.html").is_file()
