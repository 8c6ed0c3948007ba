"""The docs keep up with the API: every public name and every option is documented.

A new constructor option, ``request()`` argument or public name fails here until
the page that lists them (and the API reference) mentions it.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import kafkarpc

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _parameters(func: Callable[..., Any]) -> list[str]:
    return [name for name in inspect.signature(func).parameters if name != "self"]


def _mentioned(page: str) -> set[str]:
    """Every identifier in the code on ``page``: inline `code` and fenced blocks."""
    text = (DOCS / page).read_text(encoding="utf-8")
    code = re.findall(r"```.*?```", text, flags=re.DOTALL)
    code += re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    return {name for chunk in code for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", chunk)}


def test_every_public_name_is_in_the_api_reference() -> None:
    reference = (DOCS / "reference.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: kafkarpc\.(\w+)\s*$", reference, re.MULTILINE))
    assert sorted(set(kafkarpc.__all__) - documented) == []


@pytest.mark.parametrize(
    ("page", "func"),
    [
        ("client.md", kafkarpc.RpcClient),
        ("client.md", kafkarpc.RpcClient.request),
        ("client.md", kafkarpc.RpcClient.publish),
        ("patterns.md", kafkarpc.RpcClient.gather),
        ("patterns.md", kafkarpc.RpcClient.stream),
        ("server.md", kafkarpc.RpcServer),
        ("server.md", kafkarpc.RpcServer.subscribe),
        ("client.md", kafkarpc.RetryPolicy),
        ("client.md", kafkarpc.CallRetry),
        ("server.md", kafkarpc.HandlerRetry),
        ("client.md", kafkarpc.Topics),
        ("server.md", kafkarpc.Limits),
        ("observability.md", kafkarpc.Telemetry),
        ("failure-semantics.md", kafkarpc.CircuitBreaker),
        ("operations.md", kafkarpc.Security),
        ("failure-semantics.md", kafkarpc.replay_dlq),
        ("failure-semantics.md", kafkarpc.inspect_dlq),
    ],
    ids=lambda value: value if isinstance(value, str) else value.__qualname__,
)
def test_every_option_is_documented(page: str, func: Callable[..., Any]) -> None:
    missing = sorted(set(_parameters(func)) - _mentioned(page))
    assert missing == [], f"{page} does not mention {missing} of {func.__qualname__}"


@pytest.mark.parametrize(
    ("page", "stats"),
    [("client.md", kafkarpc.ClientStats), ("server.md", kafkarpc.ServerStats)],
)
def test_every_counter_is_documented(page: str, stats: type) -> None:
    counters = {field.name for field in dataclasses.fields(stats)}
    assert sorted(counters - _mentioned(page)) == []
