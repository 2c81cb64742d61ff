"""Segment write keys: each names a source (the web app, the backend), known by its SHA-256.

A write key says which source sends, not who the user is: a browser's is public by nature. So
it opens the door and stamps the source on what comes in; it reaches nobody's data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

MAX_KEY_CHARS = 256


class WriteKeys:
    def __init__(self, sources: dict[str, str]) -> None:
        """`sources`: each source's name and its write key."""
        self._by_digest = {digest(key): name for name, key in sources.items()}

    @classmethod
    def from_json(cls, text: str | None) -> WriteKeys:
        """SEGMENT_WRITE_KEYS: {"source name": "write key", ...}; none set, none known."""
        if not text:
            return cls({})
        try:
            declared = json.loads(text)
            pairs = list(declared.items())
        except (ValueError, AttributeError):
            raise ValueError(
                'SEGMENT_WRITE_KEYS must be a JSON object {"source name": "write key"}'
            ) from None
        # The value is a secret of sorts: an error names the setting, never a key.
        if not all(isinstance(key, str) and 16 <= len(key) <= MAX_KEY_CHARS for _, key in pairs):
            raise ValueError("SEGMENT_WRITE_KEYS: each write key must be 16 to 256 characters")
        if len({key for _, key in pairs}) != len(pairs):
            raise ValueError("SEGMENT_WRITE_KEYS: two sources share a write key")
        return cls(dict(pairs))

    def source(self, write_key: str) -> str | None:
        return self._by_digest.get(digest(write_key))


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def basic_user(authorization: str | None) -> str | None:
    """The user name of a Basic credential: Segment's SDKs send the write key as the user,
    with no password."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or len(encoded) > MAX_KEY_CHARS * 2:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0] or None
