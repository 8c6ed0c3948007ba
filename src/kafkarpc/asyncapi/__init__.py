"""AsyncAPI 3.0.0 documents describing an ``RpcServer``'s responders and subscribers.

The document is the wire contract of docs/wire.md as a machine-readable file,
so a peer in any language (or a code generator) can talk to the responders
without this library: per operation the topic trio plus the request's
dead-letter topic as channels, the JSON envelope (docs/wire.md §2) with the
handler's own payload schema inside it, and the Kafka record headers
(docs/wire.md §3).

The package reads the server only through its public API (``service``,
``group_id`` and the read-only ``responders`` and ``subscribers`` mappings). Its modules, in the
order a document is built:

- ``naming``: one entry per responder and the names it gets in the document;
- ``payloads``: the handlers' pydantic schemas, rewritten to draft-07;
- ``headers``: the record header schemas;
- ``messages``: the message objects and the envelope around each payload;
- ``operations``: channels and operations per responder;
- ``events``: channels and receive operations per subscriber;
- ``document``: the top level that puts them together;

and ``refs``, the component names and references they share.
"""

from __future__ import annotations

from .document import ASYNCAPI_VERSION, asyncapi_json, generate_asyncapi

__all__ = ["ASYNCAPI_VERSION", "asyncapi_json", "generate_asyncapi"]
