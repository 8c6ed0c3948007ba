"""Every ```python sample in docs/*.md and README.md runs here, so the docs cannot rot.

Conventions for sample authors
------------------------------
* Each ```python fence is one sample. It runs as a fresh module: nothing leaks
  from one sample into the next.
* An HTML comment on the line right before the fence (blank lines allowed)
  changes how it runs:

  ``<!-- sample: skip -->``
      Not run. Only for snippets that genuinely cannot run here (a production
      config against a remote cluster); keep these few.
  ``<!-- sample: continue -->``
      Runs after the previous sample of the same page, in the same namespace
      (a walkthrough split by prose). The samples of one chain are one test.
  ``<!-- sample: module NAME -->``
      The sample is an importable module ``NAME``; the ``continue`` samples after
      it can ``import NAME``. Removed from ``sys.modules`` afterwards.
  ``<!-- sample: pytest -->``
      A test file: written to a temporary directory and run with pytest in a
      subprocess, where the package's plugin gives it ``kafkarpc_broker``; it must pass.

* ``bootstrap`` is predefined: the address of this session's embedded broker
  (the ``kafkarpc_broker`` fixture from ``kafkarpc.testing``). Samples that use it
  are marked ``broker``; the others need nothing but the package.
* Async samples are scripts: ``async def main(): ...`` then ``anyio.run(main)``.
  Top-level ``await`` works too (the sample then runs as one coroutine on asyncio),
  but a reader cannot paste that into a file, so prefer the script form.
* Every sample shares one broker: use operation names no other sample uses, pass
  ``topics=Topics(create=True)`` to clients and servers, and give servers
  ``config={"session.timeout.ms": 2000, "heartbeat.interval.ms": 500}`` (the embedded
  broker holds a consumer-group join for about half the session timeout).
* A sample must finish on its own well within ``SAMPLE_TIMEOUT_S`` (pytest-timeout
  ends it otherwise); tracebacks point at the Markdown file and line.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import itertools
import logging
import re
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest

import kafkarpc  # noqa: F401  (its loggers exist before any sample configures logging)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_TIMEOUT_S = 40
PYTEST_SAMPLE_TIMEOUT_S = 35

_FENCE_OPEN = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w+-]*)")
_FENCE_CLOSE = re.compile(r"^\s*```\s*$")
_MARKER = re.compile(r"^\s*<!--\s*sample:\s*(?P<kind>[\w-]+)(?:\s+(?P<arg>\S+))?\s*-->\s*$")
_PYTHON = {"python", "py", "python3"}
_KINDS = {"skip", "continue", "module", "pytest"}
_counter = itertools.count()


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the first line of code
    code: str
    kind: str = "run"  # run | skip | continue | module | pytest
    arg: str | None = None

    @property
    def where(self) -> str:
        return f"{_shown(self.path)}:{self.line}"


@dataclass
class Sample:
    """One test: a block plus the ``continue`` blocks that follow it."""

    blocks: list[Block] = field(default_factory=list)

    @property
    def head(self) -> Block:
        return self.blocks[0]

    @property
    def names(self) -> set[str]:
        names: set[str] = set()
        for block in self.blocks:
            try:
                tree = ast.parse(block.code)
            except SyntaxError:
                continue  # reported when the sample runs
            names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        return names

    @property
    def needs_broker(self) -> bool:
        if self.head.kind == "pytest":
            return "kafkarpc_broker" in self.head.code
        return "bootstrap" in self.names


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _doc_files() -> list[Path]:
    return [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]


def _blocks(path: Path, problems: list[str]) -> Iterator[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    marker: re.Match[str] | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        opening = _FENCE_OPEN.match(line)
        if opening is None:
            found = _MARKER.match(line)
            if found is not None:
                marker = found
            elif line.strip():
                marker = None
            index += 1
            continue
        start = index + 1
        end = start
        while end < len(lines) and not _FENCE_CLOSE.match(lines[end]):
            end += 1
        lang = opening["lang"].lower()
        where = f"{_shown(path)}:{index + 1}"
        if lang in _PYTHON:
            body = textwrap.dedent("\n".join(lines[start:end])) + "\n"
            kind, arg = ("run", None) if marker is None else (marker["kind"], marker["arg"])
            if kind != "run" and kind not in _KINDS:
                problems.append(f"{where}: unknown sample marker {kind!r}")
            elif kind == "module" and not (arg and arg.isidentifier()):
                problems.append(f"{where}: 'sample: module' needs a module name")
            else:
                yield Block(path, start + 1, body, kind, arg)
        elif marker is not None:
            problems.append(f"{where}: a sample marker before a non-python fence")
        marker = None
        index = end + 1


def collect(paths: list[Path] | None = None) -> tuple[list[Sample], list[str]]:
    samples: list[Sample] = []
    problems: list[str] = []
    for path in _doc_files() if paths is None else paths:
        if not path.exists():
            continue
        previous: Sample | None = None
        for block in _blocks(path, problems):
            if block.kind == "continue":
                if previous is None or previous.head.kind in ("skip", "pytest"):
                    problems.append(f"{block.where}: 'continue' without a runnable sample before")
                    continue
                previous.blocks.append(block)
                continue
            previous = Sample([block])
            samples.append(previous)
    return samples, problems


SAMPLES, PROBLEMS = collect()


def _params() -> list[Any]:
    params = []
    for sample in SAMPLES:
        marks: list[pytest.MarkDecorator] = []
        if sample.head.kind == "skip":
            marks.append(pytest.mark.skip(reason="marked <!-- sample: skip --> in the docs"))
        if sample.needs_broker:
            marks.append(pytest.mark.broker)
        params.append(pytest.param(sample, marks=marks, id=sample.head.where))
    return params


def _compile(block: Block) -> types.CodeType:
    # Blank lines in front make tracebacks name the Markdown file's own line numbers.
    source = "\n" * (block.line - 1) + block.code
    code = compile(
        source, str(block.path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )
    assert isinstance(code, types.CodeType)  # typeshed types compile() with int flags as Any
    return code


def _execute(block: Block, namespace: dict[str, Any]) -> None:
    code = _compile(block)
    if code.co_flags & inspect.CO_COROUTINE:  # top-level await

        async def run() -> None:
            await eval(code, namespace)

        anyio.run(run)
    else:
        exec(code, namespace)


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    """Samples may configure logging as an application would; undo it afterwards."""

    def loggers() -> list[logging.Logger]:
        named = logging.Logger.manager.loggerDict.values()
        return [logging.getLogger(), *(lg for lg in named if isinstance(lg, logging.Logger))]

    saved = [(lg, lg.level, lg.handlers[:], lg.filters[:]) for lg in loggers()]
    try:
        yield
    finally:
        for lg, level, handlers, filters in saved:
            lg.setLevel(level)
            lg.handlers[:] = handlers
            lg.filters[:] = filters


def _run_in_process(sample: Sample, bootstrap: str | None) -> None:
    name = f"docs_sample_{next(_counter)}"
    main = types.ModuleType(name)
    main.__file__ = str(sample.head.path)
    registered = [name]
    sys.modules[name] = main
    try:
        for block in sample.blocks:
            if block.kind == "module":
                assert block.arg is not None
                target = types.ModuleType(block.arg)
                target.__file__ = str(block.path)
                sys.modules[block.arg] = target
                registered.append(block.arg)
            else:
                target = main
            if bootstrap is not None:
                target.__dict__["bootstrap"] = bootstrap
            _execute(block, target.__dict__)
    finally:
        for module_name in registered:
            sys.modules.pop(module_name, None)


def _run_with_pytest(sample: Sample, directory: Path) -> None:
    test_file = directory / f"test_sample_{sample.head.line}.py"
    test_file.write_text(sample.head.code, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file.name],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=PYTEST_SAMPLE_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, (
        f"pytest sample {sample.head.where} failed:\n{result.stdout}\n{result.stderr}"
    )


def test_sample_markers_are_well_formed() -> None:
    assert PROBLEMS == []


def test_docs_have_samples() -> None:
    assert any(sample.head.kind != "skip" for sample in SAMPLES)


def test_markers_group_and_classify_blocks(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        textwrap.dedent(
            """\
            ```python
            a = 1
            ```
            <!-- sample: continue -->

            ```python
            assert a == 1
            ```
            <!-- sample: skip -->
            ```python
            connect("prod")
            ```
            ```bash
            echo not python
            ```
            <!-- sample: module helpers -->
            ```py
            VALUE = 2
            ```
            <!-- sample: pytest -->
            ```python
            def test_it(kafkarpc_broker): ...
            ```
            <!-- sample: typo -->
            ```python
            pass
            ```
            """
        ),
        encoding="utf-8",
    )
    samples, problems = collect([page])
    kinds = [[block.kind for block in sample.blocks] for sample in samples]
    assert kinds == [["run", "continue"], ["skip"], ["module"], ["pytest"]]
    assert samples[0].blocks[1].line == 7  # the first line of code, 1-based
    assert samples[2].head.arg == "helpers"
    assert [s.needs_broker for s in samples] == [False, False, False, True]
    assert len(problems) == 1
    assert "unknown sample marker 'typo'" in problems[0]


@pytest.mark.timeout(SAMPLE_TIMEOUT_S + 5)
@pytest.mark.parametrize("sample", _params())
def test_doc_sample(sample: Sample, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if sample.head.kind == "pytest":
        _run_with_pytest(sample, tmp_path)
        return
    bootstrap = request.getfixturevalue("kafkarpc_broker") if sample.needs_broker else None
    with _logging_restored():
        _run_in_process(sample, bootstrap)
