"""The suppression list of erased users, which every writer of user rows consults.

A user is listed by the SHA-256 of their id, the same digest in Python and in SQL (`user_hash()`,
migration 0010), so the list never holds an id in clear; MongoDB's copy of the list holds it in
hex. Each PostgreSQL write of user rows checks the list in the statement or the transaction that
writes them; an erasure waits for the transactions older than its listing before it deletes, so
a write either sees the listing or is done before the deletion reads.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable

import asyncpg

# user_hash() spelled out, for the checks made per row of a write: PostgreSQL does not inline
# the function, and its calls cost twice the digest itself.
SQL_USER_HASH = "sha256(convert_to({}, 'UTF8'))"


@functools.lru_cache(maxsize=65_536)  # a batch names few users, many times each
def user_hash(user_id: str) -> bytes:
    return hashlib.sha256(user_id.encode()).digest()


def not_forgotten(user_column: str) -> str:
    """A condition for an INSERT ... SELECT: the row's user is not on the list."""
    return (
        "NOT EXISTS (SELECT 1 FROM forgotten_users forgotten "
        f"WHERE forgotten.user_hash = {SQL_USER_HASH.format(user_column)})"
    )


async def forgotten_among(connection: asyncpg.Connection, user_ids: Iterable[str]) -> set[str]:
    """The listed users among these; call it in the transaction that writes their rows."""
    rows = await connection.fetch(
        "SELECT u FROM unnest($1::text[]) AS u "
        "WHERE EXISTS (SELECT 1 FROM forgotten_users WHERE user_hash = user_hash(u))",
        list(set(user_ids)),
    )
    return {row["u"] for row in rows}
