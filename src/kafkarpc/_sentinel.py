"""The "not given" sentinel for per-call overrides (``None`` is a real value there)."""

from __future__ import annotations

import enum
from typing import Final, Literal, TypeAlias

__all__ = ["UNSET", "Unset"]


class _UnsetType(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _UnsetType.UNSET
Unset: TypeAlias = Literal[_UnsetType.UNSET]
