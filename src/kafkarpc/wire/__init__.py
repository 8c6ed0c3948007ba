"""The wire contract (docs/wire.md): topics, envelope, headers, failure and dead-letter records.

Everything here is pure: bytes and names in, bytes and names out. Nothing in this
package sends, receives or knows about clients, servers or transports.
"""
