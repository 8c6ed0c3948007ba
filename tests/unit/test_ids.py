"""Ids from the pooled generator are real random UUIDs, unique across pool refills."""

from __future__ import annotations

import threading
import uuid

from kafkarpc._ids import new_uuid


def test_ids_are_canonical_version_4_uuids() -> None:
    for _ in range(600):  # more than one pooled block
        text = new_uuid()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_ids_stay_unique_when_threads_draw_across_refills() -> None:
    drawn: list[list[str]] = [[] for _ in range(4)]

    def draw(into: list[str]) -> None:
        for _ in range(5_000):
            into.append(new_uuid())

    threads = [threading.Thread(target=draw, args=(ids,)) for ids in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [text for ids in drawn for text in ids]
    assert len(set(every)) == len(every) == 20_000
