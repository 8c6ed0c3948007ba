"""A one-line progress display on stderr, with no dependency.

On a terminal the line is redrawn in place; otherwise (CI logs, pytest capture)
only each level's final line is printed, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]

_BAR_WIDTH = 28
_REDRAW_EVERY_S = 0.1


class Progress:
    def __init__(self, total_levels: int, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._live = self._stream.isatty()
        self._total_levels = total_levels
        self._level = 0
        self._label = ""
        self._total = 0
        self._started = 0.0
        self._drawn_at = 0.0

    def start_level(self, label: str, total: int) -> None:
        self._level += 1
        self._label = label
        self._total = total
        self._started = time.monotonic()
        self.status("starting processes, waiting for the responder's group join")

    def _prefix(self) -> str:
        return f"[{self._level}/{self._total_levels}] {self._label:<22}"

    def _draw(self, text: str, *, final: bool = False) -> None:
        if self._live:
            self._stream.write("\r\x1b[2K" + text + ("\n" if final else ""))
            self._stream.flush()
        elif final:
            self._stream.write(text + "\n")
            self._stream.flush()

    def status(self, message: str) -> None:
        self._draw(f"{self._prefix()} {message}")

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now - self._drawn_at < _REDRAW_EVERY_S:
            return
        self._drawn_at = now
        fraction = min(done / self._total, 1.0) if self._total else 1.0
        filled = int(fraction * _BAR_WIDTH)
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        self._draw(f"{self._prefix()} [{bar}] {done}/{self._total} {now - self._started:5.1f}s")

    def finish_level(self, summary: str) -> None:
        self._draw(f"{self._prefix()} {summary}", final=True)
