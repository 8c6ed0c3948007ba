"""Ids from the pooled generator are real random UUIDs, unique across pool refills."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

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


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_reuse_the_parents_ids() -> None:
    new_uuid()  # the parent now holds a block with unused ids in it
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids and leave without running pytest's exit
        try:
            os.write(write_end, "\n".join(new_uuid() for _ in range(10)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        child_ids = set(pipe.read().split())
    os.waitpid(pid, 0)
    parent_ids = {new_uuid() for _ in range(10)}
    assert len(child_ids) == 10
    assert not child_ids & parent_ids
