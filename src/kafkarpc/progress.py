"""``Progress``: the item a streaming responder yields to report on long work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["Progress"]


class Progress(BaseModel):
    """How far a piece of long work has come: one item of a streamed reply.

    The fields of the reference documents' ``ProtocolProgressUpdate``, so a peer
    that already reports progress that way is read without a mapping::

        @server.responder("reports.build")
        async def build(req: BuildRequest) -> AsyncIterator[Progress]:
            yield Progress(work_item_id=req.id, progress_percentage=50, status_message="half")

        async for step in client.stream("reports.build", {...}, item_model=Progress): ...
    """

    work_item_id: str
    progress_percentage: float = Field(ge=0, le=100)
    status_message: str = ""
    estimated_completion: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
