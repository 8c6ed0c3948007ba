"""Events on the broker: dotted event types, catalogs and their fan-out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from kafkarpc import RpcClient, decode_envelope, ensure_topics
from kafkarpc.transport import InboundRecord

pytestmark = pytest.mark.anyio

Records = Callable[[str], Awaitable[list[InboundRecord]]]


async def test_publish_stores_a_dotted_lower_case_event_type(
    kafkarpc_broker: str, client: RpcClient, unique_topic_base: str, topic_records: Records
) -> None:
    topic = f"{unique_topic_base}.validate.v1"
    await ensure_topics(kafkarpc_broker, [topic], partitions=1)
    await client.publish(topic, {"file": "a.py"}, event_type="omninode.codegen.request.validate.v1")
    (record,) = await topic_records(topic)
    assert decode_envelope(record.value).event_type == "omninode.codegen.request.validate.v1"
