"""The MongoDB backup's retention: a TTL index on `ingested_at`, kept in step with the setting.

FerretDB 1.24 refuses TTL indexes ("not implemented"); the backup then keeps everything, and
prestart says so rather than fail.
"""

from __future__ import annotations

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

TTL_INDEX = "ingested_at_ttl"


async def align_backup_retention(collection: AsyncCollection, days: int | None) -> str:
    """Creates, changes or drops the TTL index; says what the backup keeps."""
    indexes = await collection.index_information()
    if days is None:
        if TTL_INDEX in indexes:
            await collection.drop_index(TTL_INDEX)
        return "backup retention: every event kept"
    seconds = days * 86_400
    try:
        if TTL_INDEX not in indexes:
            await collection.create_index("ingested_at", name=TTL_INDEX, expireAfterSeconds=seconds)
        elif indexes[TTL_INDEX].get("expireAfterSeconds") != seconds:
            await collection.database.command(
                "collMod",
                collection.name,
                index={"name": TTL_INDEX, "expireAfterSeconds": seconds},
            )
    except OperationFailure as error:
        reason = (error.details or {}).get("errmsg", str(error))
        return f"backup retention: refused by this MongoDB server ({reason}); every event kept"
    return f"backup retention: {days} days"
