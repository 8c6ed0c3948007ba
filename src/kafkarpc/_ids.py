"""Random UUID strings without a system call or string formatting per id.

``uuid.uuid4()`` reads ``os.urandom(16)`` each time; at thousands of requests
per second (two ids per message) that syscall shows up in profiles. Reading the
OS's randomness in larger blocks, and laying out a whole block's text with a few
C-level slice assignments, gives the same ids at a fraction of the cost.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

__all__ = ["new_uuid"]

_IDS_PER_BLOCK = 256
_TEXT = 36  # characters of one id: 32 hex digits and 4 dashes
# Where each hex digit of an id sits in its text (dashes after digits 8, 12, 16 and 20).
_POSITIONS = [digit + sum(digit >= cut for cut in (8, 12, 16, 20)) for digit in range(32)]
# The RFC 4122 variant keeps the top two bits of digit 16 at 10: 8, 9, a or b.
_VARIANT = bytes.maketrans(b"0123456789abcdef", b"89ab89ab89ab89ab")


def _block() -> Iterator[str]:
    digits = os.urandom(16 * _IDS_PER_BLOCK).hex().encode()
    text = bytearray(b"-" * _TEXT * _IDS_PER_BLOCK)
    # Each assignment fills one digit position of every id in the block at once.
    for digit, position in enumerate(_POSITIONS):
        text[position::_TEXT] = digits[digit::32]
    text[_POSITIONS[12] :: _TEXT] = b"4" * _IDS_PER_BLOCK  # version 4
    text[_POSITIONS[16] :: _TEXT] = digits[16::32].translate(_VARIANT)
    block = text.decode()
    return iter([block[start : start + _TEXT] for start in range(0, len(block), _TEXT)])


_ids = _block()


def _forget_block_in_child() -> None:
    # A forked child inherits the parent's unused ids; drawing them too would give
    # two processes the same correlation ids, and one could take the other's reply.
    global _ids
    _ids = iter(())


os.register_at_fork(after_in_child=_forget_block_in_child)


def new_uuid() -> str:
    """A random (version 4, RFC 4122 variant) UUID in its canonical string form."""
    global _ids
    # No lock: a list iterator hands out each item once even across threads, and
    # threads that run one dry together each start a fresh random block.
    try:
        return next(_ids)
    except StopIteration:
        fresh = _block()
        first = next(fresh)  # taken before other threads can see the block
        _ids = fresh
        return first
