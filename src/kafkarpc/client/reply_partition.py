"""Which partition of an operation's reply topics a client reads, and asks its replies on.

``Topics(reply_partition=None)`` (the default) reads every partition: each client sees
every reply to the operation and drops the ones that are not its own. An ``int`` pins
one partition. ``"auto"`` picks one per client instance, spread at random over the
reply topics' partitions, so that many clients of one operation stop reading each
other's replies without agreeing on anything (docs/concepts.md, "Many clients sharing
reply topics").
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Literal

from .._exceptions import ConfigurationError
from ..wire.topics import TopicTrio

__all__ = ["ReplyPartitions", "new_instance_slot", "spread_reply_partition"]

ReplyPartitionSetting = int | Literal["auto"] | None

# Far more slots than any reply topic has partitions, so slot % partitions is uniform
# to within one part in a million even for a 4,096-partition topic.
_SLOTS = 1 << 32


def new_instance_slot() -> int:
    """A random number fixed for one client instance; its partition is this modulo the count.

    From the OS's entropy, not ``random``: processes forked or spawned from one parent
    must not share a seed, or they would all pick the same partition.
    """
    return secrets.randbelow(_SLOTS)


def spread_reply_partition(slot: int, partition_counts: Sequence[int]) -> int:
    """The partition an instance with ``slot`` reads in every reply topic of one operation.

    A request names one reply partition for both reply topics (a success and a failure
    go to the same partition number), so it must exist in each: the choice is taken
    modulo the smallest count.
    """
    if not partition_counts or min(partition_counts) < 1:
        raise ConfigurationError(
            f"reply topics must have at least one partition each, got {list(partition_counts)}"
        )
    return slot % min(partition_counts)


class ReplyPartitions:
    """This client's reply partition per operation: fixed, chosen per instance, or all (None)."""

    __slots__ = ("_chosen", "_fixed", "_slot")

    def __init__(self, setting: ReplyPartitionSetting = None, *, slot: int | None = None) -> None:
        # The pinned partition; None for every partition or an automatic choice.
        self._fixed = setting if isinstance(setting, int) else None
        # With "auto": the partition chosen per completed topic; None otherwise.
        self._chosen: dict[str, int] | None = {} if setting == "auto" else None
        self._slot = new_instance_slot() if slot is None else slot

    @property
    def automatic(self) -> bool:
        """True with ``"auto"``: the partition depends on the reply topics' partition counts."""
        return self._chosen is not None

    def choose(self, trio: TopicTrio, partition_counts: Sequence[int]) -> int | None:
        """The partition to read ``trio``'s replies from, remembered for its requests.

        ``partition_counts`` are those of ``trio.reply_topics``; only an automatic
        choice reads them.
        """
        chosen = self._chosen
        if chosen is None:
            return self._fixed
        partition = spread_reply_partition(self._slot, partition_counts)
        chosen[trio.completed] = partition
        return partition

    def of(self, trio: TopicTrio) -> int | None:
        """The partition a request of ``trio`` asks its reply on (after ``choose``)."""
        chosen = self._chosen
        if chosen is None:
            return self._fixed
        return chosen.get(trio.completed)
