"""The backup's TTL index follows MONGO_BACKUP_RETENTION_DAYS; the local FerretDB refuses TTL
indexes, and the backup then keeps everything, said plainly rather than failing prestart."""

from __future__ import annotations

from pymongo import AsyncMongoClient

from app.ops.backup_retention import TTL_INDEX, align_backup_retention


async def test_unset_keeps_everything_and_a_server_without_ttl_says_so(settings, unique):
    client = AsyncMongoClient(settings.mongo_url)
    database = client[f"retention_{unique}"]
    try:
        await database.docs.insert_one({"event": 1})
        assert await align_backup_retention(database.docs, None) == (
            "backup retention: every event kept"
        )
        said = await align_backup_retention(database.docs, 30)
        assert said.startswith("backup retention: refused by this MongoDB server")
        assert "expireAfterSeconds" in said and said.endswith("every event kept")
        assert TTL_INDEX not in await database.docs.index_information()
    finally:
        await client.drop_database(database.name)
        await client.close()
