"""Run the chosen curves one after another; a curve that crashes is reported, not fatal."""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from typing import Any

from benchmarks.curves.base import CurveContext, Target
from benchmarks.curves.registry import load_curve

__all__ = ["curve_targets", "format_curves", "run_curves"]


def run_curves(names: Sequence[str], ctx: CurveContext) -> dict[str, dict[str, Any]]:
    """``{name: data}``; a failed curve's data is ``{"failure": traceback}``."""
    measured: dict[str, dict[str, Any]] = {}
    for index, name in enumerate(names, start=1):
        curve = load_curve(name)
        ctx.say(f"[curve {index}/{len(names)}] {curve.title}")
        try:
            measured[name] = curve.measure(ctx)
        except Exception:  # one broken curve must not cost the rest of the run
            measured[name] = {"failure": traceback.format_exc()}
            ctx.say(f"curve {name} FAILED: {measured[name]['failure'].strip().splitlines()[-1]}")
    return measured


def _failure_line(data: dict[str, Any]) -> str:
    lines = str(data["failure"]).strip().splitlines()
    return lines[-1] if lines else "failed"


def format_curves(measured: dict[str, dict[str, Any]]) -> str:
    blocks: list[str] = []
    for name, data in measured.items():
        curve = load_curve(name)
        body = f"! failed: {_failure_line(data)}" if "failure" in data else curve.format(data)
        blocks.append(f"{curve.title}\n{body}")
    return "\n\n".join(blocks)


def curve_targets(measured: dict[str, dict[str, Any]]) -> list[Target]:
    targets: list[Target] = []
    for name, data in measured.items():
        curve = load_curve(name)
        if "failure" in data:
            targets.append(Target(curve.title, "the curve runs", _failure_line(data), False))
        else:
            targets.extend(curve.targets(data))
    return targets
