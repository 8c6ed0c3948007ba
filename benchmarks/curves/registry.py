"""The curves ``kafkarpc bench`` knows, in the order it runs them, loaded on demand.

Loading by name keeps a run that skips the curves (``--curves ''``) from
importing what they need, and keeps this list the one place that names them.
"""

from __future__ import annotations

import importlib

from benchmarks.curves.base import Curve

__all__ = ["CURVE_NAMES", "load_curve"]

CURVE_NAMES: tuple[str, ...] = ("payload", "operations", "clients", "workers")


def load_curve(name: str) -> Curve:
    if name not in CURVE_NAMES:
        raise ValueError(f"unknown curve {name!r}; choose from {', '.join(CURVE_NAMES)}")
    module = importlib.import_module(f"benchmarks.curves.{name}")
    curve: Curve = module.CURVE
    return curve
