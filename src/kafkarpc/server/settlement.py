"""Acknowledging a request only when everything sent for it is on the broker."""

from __future__ import annotations

from collections.abc import Callable

from ..transport import InboundRecord

__all__ = ["Settlement"]


class Settlement:
    """Acknowledges a request once everything sent on its behalf is settled.

    Starts with one outstanding part (the handling itself); every record handed to
    the producer adds one. When the count reaches zero, ``on_settled`` learns
    whether all parts succeeded.
    """

    __slots__ = ("_delivered", "_on_settled", "_outstanding", "_record")

    def __init__(
        self, record: InboundRecord, on_settled: Callable[[InboundRecord, bool], None]
    ) -> None:
        self._record = record
        self._on_settled = on_settled
        self._outstanding = 1
        self._delivered = True

    def expect(self) -> None:
        self._outstanding += 1

    def finish(self, delivered: bool) -> None:
        self._delivered = self._delivered and delivered
        self._outstanding -= 1
        if self._outstanding == 0:
            self._on_settled(self._record, self._delivered)
