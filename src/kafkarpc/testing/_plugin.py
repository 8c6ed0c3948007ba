"""pytest plugin: ``kafkarpc_broker`` yields the bootstrap address of an embedded broker.

One broker serves the whole session; give each test fresh topic names
(``unique_topic_base`` does that) since Tansu keeps everything in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from .._broker import embedded_broker


@pytest.fixture(scope="session")
def kafkarpc_broker() -> Iterator[str]:
    """Bootstrap address (``127.0.0.1:PORT``) of a Tansu broker started for this session."""
    with embedded_broker() as bootstrap:
        yield bootstrap


@pytest.fixture
def unique_topic_base(request: pytest.FixtureRequest) -> str:
    """An operation base name no other test uses, e.g. ``test.round_trip.3f2a9c``."""
    name = "".join(c if c.isalnum() else "_" for c in request.node.name)[:60]
    return f"test.{name}.{uuid.uuid4().hex[:6]}"
