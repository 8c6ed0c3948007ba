"""What every curve of the benchmark shares: its context, its targets, its shape.

A curve grows one dimension a real deployment grows in (payload size, operations
per server, clients per reply topic, responder processes) and records what should
stay flat. Each curve module exposes one ``CURVE``: how to measure it (into a
JSON-ready dict), print it, judge it against the issue's target and plot it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from benchmarks.kafka import BrokerInfo, TopicAdmin

__all__ = ["Curve", "CurveContext", "Target"]


@dataclass(frozen=True, slots=True)
class CurveContext:
    broker: BrokerInfo
    admin: TopicAdmin
    seed: int
    quick: bool
    """Tiny sizes: the tests check that a curve runs end to end, not how fast."""
    stream: TextIO = field(default_factory=lambda: sys.stderr)

    def say(self, text: str) -> None:
        """One progress line while a curve runs (a curve takes tens of seconds)."""
        self.stream.write(f"  {text}\n")
        self.stream.flush()


@dataclass(frozen=True, slots=True)
class Target:
    """One line of the targets table: what the issue asks, what the run measured."""

    name: str
    goal: str
    measured: str
    met: bool | None
    """None: this run did not measure it (a system or curve was left out)."""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "goal": self.goal, "measured": self.measured, "met": self.met}


@dataclass(frozen=True, slots=True)
class Curve:
    name: str
    title: str
    measure: Callable[[CurveContext], dict[str, Any]]
    """Runs the curve; the dict is what the JSON keeps under ``curves[name]``."""
    format: Callable[[dict[str, Any]], str]
    """The terminal table of a measured curve."""
    targets: Callable[[dict[str, Any]], list[Target]]
    """The curve's targets, judged from the dict alone (so a committed JSON can be re-judged)."""
    plot: Callable[[Any, dict[str, Any]], None]
    """Draws the curve on one matplotlib ``Axes``."""
