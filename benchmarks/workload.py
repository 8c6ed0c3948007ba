"""What one benchmark level asks of a client: how many requests, how many in
flight, and the seeded payloads. Sent to the client process, so it is picklable."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any

__all__ = ["PayloadSource", "Workload"]

_DISTINCT_BLOBS = 64


@dataclass(frozen=True, slots=True)
class Workload:
    load: int
    """Requests kept in flight (a closed loop: each reply triggers the next request)."""
    warmup: int
    """Requests issued and answered before measuring starts."""
    measured: int
    """Requests whose latency is recorded."""
    seed: int
    payload_bytes: int
    timeout_s: float
    """Per-request timeout; a request that exceeds it counts as an error."""
    deadline_s: float
    """Wall-clock cap for the whole level; no request is issued after it."""

    @property
    def issue_limit(self) -> int:
        # Requests after the measured ones keep `load` in flight until the last
        # measured reply arrives, so the tail is not measured at falling concurrency.
        return self.warmup + self.measured + self.load


class PayloadSource:
    """Deterministic payloads: the seed fixes every blob and which request carries which.

    A small pool keeps the client's memory independent of the request count,
    which would otherwise leak into the RSS being compared.
    """

    def __init__(self, workload: Workload) -> None:
        rng = random.Random(workload.seed)
        alphabet = string.ascii_letters + string.digits
        self._blobs = [
            "".join(rng.choices(alphabet, k=workload.payload_bytes)) for _ in range(_DISTINCT_BLOBS)
        ]
        self._choice = bytes(rng.randrange(_DISTINCT_BLOBS) for _ in range(workload.issue_limit))

    def payload(self, index: int) -> dict[str, Any]:
        return {"seq": index, "blob": self._blobs[self._choice[index]]}
