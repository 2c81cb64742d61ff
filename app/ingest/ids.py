"""UUIDv7 event ids: time-ordered, so ids the server assigns sort by arrival.

Ids are made on the hot path, one per event, so the random bits come from the OS in blocks of
hex text rather than one read per id, and the id is formatted as text directly.
"""

from __future__ import annotations

import os
import time

HEX_PER_ID = 19  # 74 random bits: 3 + 3 + 12 hex digits, and one digit for the variant's 2
IDS_PER_READ = 512
# RFC 9562's variant is 0b10 in the top bits of the fourth group: 8, 9, a or b.
VARIANT_DIGIT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


class _RandomHex:
    """os.urandom as hex, read in blocks; a forked child reads its own so no two processes share."""

    def __init__(self) -> None:
        self._block, self._offset, self._pid = "", 0, 0

    def take(self) -> str:
        if self._offset + HEX_PER_ID > len(self._block) or self._pid != os.getpid():
            self._block = os.urandom((HEX_PER_ID * IDS_PER_READ + 1) // 2).hex()
            self._offset, self._pid = 0, os.getpid()
        start = self._offset
        self._offset += HEX_PER_ID
        return self._block[start : self._offset]


_random = _RandomHex()


def uuid7_stamp(unix_ms: int) -> str:
    """The first 15 characters of every UUIDv7 of that millisecond: its time and version."""
    stamp = f"{unix_ms & 0xFFFF_FFFF_FFFF:012x}"
    return f"{stamp[:8]}-{stamp[8:]}-7"


def uuid7(stamp: str | None = None) -> str:
    """RFC 9562 version 7, as text: 48 bits of Unix milliseconds (now, or those of `stamp`,
    which a caller making many ids computes once), then 74 random bits."""
    stamp = stamp or uuid7_stamp(time.time_ns() // 1_000_000)
    bits = _random.take()
    return f"{stamp}{bits[:3]}-{VARIANT_DIGIT[bits[3]]}{bits[4:7]}-{bits[7:]}"
