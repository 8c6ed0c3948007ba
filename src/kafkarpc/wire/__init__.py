"""The wire contract (docs/wire.md): topics, envelope, headers, failure and dead-letter records.

Everything here is pure: bytes and names in, bytes and names out. Nothing in this
package sends or receives, or knows about clients and servers; dead-letter records
are built as the transport's plain record type.
"""
