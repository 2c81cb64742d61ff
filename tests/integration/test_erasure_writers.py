"""The suppression list at each writer (staging, the backup, Spark's session commit, the
fallback, promotion), and the erasure's wait for writers that missed it, on the real PostgreSQL
and FerretDB. Spark's fact merge: test_spark_erasure.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient

from app.bootstrap import build_resources
from app.config import Settings
from app.consumers.mongo_backup import MongoBackupSink
from app.consumers.postgres_staging import PostgresStagingSink, copy_rows
from app.consumers.records import DecodedEvent, SourceRecord, decode_event
from app.consumers.staging_rows import USER_LOG_COLUMNS, user_log_row
from app.db.postgres import PostgresPool
from app.model.promotion import promote
from app.ops.erasure import AUDIT_TABLES, ErasureBlocked, forget_user
from jobs.forgotten_users import user_hash
from jobs.model_store import fact_rows, insert_fact_rows, replace_sessions
from jobs.pandas.events_frame import events_frame
from jobs.pandas.transforms import build_facts, build_sessions
from jobs.rules import load_rules
from jobs.spark.batch_store import commit_batch
from tests.event_factory import new_event

OFFSETS = iter(range(2 * 10**9, 3 * 10**9))
RULES = load_rules()


def decoded(event: dict) -> DecodedEvent:
    stored = {**event, "received_at": event["occurred_at"], "schema_version": 1}
    source = SourceRecord("user_click_log", 0, next(OFFSETS), b"k", orjson.dumps(stored))
    return decode_event(source)


@pytest.fixture
async def erasing(settings: Settings, unique: str) -> AsyncIterator[Settings]:
    """Settings with a MongoDB database of the test's own, dropped afterwards: FerretDB scans a
    collection for any query, so the shared backups would slow the erasure down."""
    name = f"erase_{unique}"
    yield settings.model_copy(update={"mongo_database": name})
    client: AsyncMongoClient = AsyncMongoClient(settings.mongo_url)
    try:
        await client.drop_database(name)
    finally:
        await client.close()


def dropped(sink: str) -> float:
    return REGISTRY.get_sample_value("erased_user_events_dropped_total", {"sink": sink}) or 0.0


async def staged_users(pg, events: list[dict]) -> list[str]:
    rows = await pg.fetch(
        "SELECT user_id FROM stg_user_logs WHERE event_id = ANY($1::uuid[]) ORDER BY user_id",
        [event["event_id"] for event in events],
    )
    return [row["user_id"] for row in rows]


@pytest.mark.parametrize("user_id", ["ana", "Zoë 🍿", "o'brien\\n"])
async def test_postgresql_and_python_hash_a_user_alike(pg, user_id):
    assert await pg.fetchval("SELECT user_hash($1)", user_id) == user_hash(user_id)


async def test_the_staging_sink_drops_a_listed_users_events_on_both_paths(settings, pg, unique):
    gone, kept = f"gone-{unique}", f"kept-{unique}"
    await pg.execute("INSERT INTO forgotten_users (user_hash) VALUES ($1)", user_hash(gone))
    pool = PostgresPool(settings.database_url)
    sink = PostgresStagingSink(pool)
    before = dropped("postgres_staging")
    try:
        first = [new_event("click", gone), new_event("comment", kept), new_event("comment", gone)]
        assert await sink.write([decoded(event) for event in first]) == {}
        # Redelivered with a new event of each: the path for batches partly staged already.
        again = [*first, new_event("click", gone), new_event("click", kept)]
        assert await sink.write([decoded(event) for event in again]) == {}
    finally:
        await pool.close()
    assert await staged_users(pg, again) == [kept, kept]
    comments = await pg.fetchval("SELECT count(*) FROM stg_comments WHERE user_id = $1", gone)
    assert comments == 0
    assert dropped("postgres_staging") - before == 2 + 3


async def test_the_backup_sink_removes_a_listed_users_events_after_writing(settings, unique, pg):
    gone, kept = f"gone-{unique}", f"kept-{unique}"
    client: AsyncMongoClient = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    database = client[settings.mongo_database]
    logs, forgotten = database[f"logs_{unique}"], database[f"forgotten_{unique}"]
    before = dropped("mongo_backup")
    try:
        await forgotten.insert_one({"_id": user_hash(gone).hex()})
        events = [new_event("click", gone), new_event("click", kept), new_event("watch", gone)]
        audit = PostgresPool(settings.database_url)
        sink = MongoBackupSink(logs, forgotten, audit)
        assert await sink.write([decoded(event) for event in events]) == {}
        await audit.close()
        backed_up = await logs.distinct("user_id")
        ledger = await pg.fetch(
            "SELECT event_id::text FROM audit.backed_up WHERE event_id = ANY($1::uuid[])",
            [event["event_id"] for event in events],
        )
    finally:
        await logs.drop()
        await forgotten.drop()
        await client.close()
    assert backed_up == [kept]
    assert [row[0] for row in ledger] == [events[1]["event_id"]]  # the backup's ledger agrees
    assert dropped("mongo_backup") - before == 2


async def test_an_erasure_waits_for_a_writer_that_missed_the_list(erasing, pg, unique):
    """A writer that checked the list before the user was on it, and commits after: the
    erasure's deletion must come after that commit, or the row would survive."""
    user = f"late-{unique}"
    row = user_log_row(decoded(new_event("click", user)))
    transaction = pg.transaction()
    await transaction.start()
    await pg.copy_records_to_table("stg_user_logs", records=[row], columns=USER_LOG_COLUMNS)
    async with build_resources(erasing) as resources:
        erasure = asyncio.create_task(forget_user(resources, user, "test"))
        await asyncio.sleep(1.5)
        assert not erasure.done(), "the erasure did not wait for the open writer"
        await transaction.commit()
        outcome = await asyncio.wait_for(erasure, 30)
    assert outcome.rows["stg_user_logs"] == 1
    assert await pg.fetchval("SELECT count(*) FROM stg_user_logs WHERE user_id = $1", user) == 0


async def test_an_erasure_stopped_by_an_open_transaction_says_so_and_a_rerun_finishes(
    erasing, pg, unique
):
    user = f"blocked-{unique}"
    staged = user_log_row(decoded(new_event("click", user)))
    await copy_rows(pg, "stg_user_logs", "stg_comments", [staged], [])
    transaction = pg.transaction()  # someone's transaction, left open
    await transaction.start()
    await pg.execute("SELECT 1")
    async with build_resources(erasing) as resources:
        with pytest.raises(ErasureBlocked, match="still open"):
            await forget_user(resources, user, "test", wait_seconds=0.5)
        await transaction.rollback()
        outcome = await forget_user(resources, user, "test")
    assert outcome.rows["stg_user_logs"] == 1
    audit = await pg.fetch(
        "SELECT requested_by, finished_at, rows_removed FROM erasures WHERE user_hash = $1 "
        "ORDER BY erasure_id",
        user_hash(user),
    )
    assert [row["finished_at"] is None for row in audit] == [True, False]
    assert orjson.loads(audit[1]["rows_removed"])["stg_user_logs"] == 1
    clear = await pg.fetchval(
        "SELECT count(*) FROM erasures WHERE rows_removed::text LIKE '%' || $1 || '%' "
        "OR position(convert_to($1, 'UTF8') IN user_hash) > 0",
        user,
    )
    assert clear == 0, "the audit holds no user id in clear"


async def test_spark_commits_no_session_of_a_listed_user(pg, unique):
    """Sessions Spark built from facts it read before an erasure are not written."""
    stream, gone, kept = f"erase-{unique}", f"gone-{unique}", f"kept-{unique}"
    await pg.execute("INSERT INTO forgotten_users (user_hash) VALUES ($1)", user_hash(gone))
    for user in (gone, kept):
        await pg.execute(
            "INSERT INTO spark_incoming_sessions (stream, batch_id, session_id, user_id, "
            "session_start, session_end, duration_seconds, event_count, watch_count, "
            "click_count, comment_count, movies_watched, watch_seconds, rules_version, "
            "source_flag) VALUES ($1, 0, $2 || ':0', $2, now(), now(), 0, 1, 0, 1, 0, 0, 0, "
            "'test', 'spark')",
            stream, user,
        )  # fmt: skip
    await commit_batch(pg, stream, 0, {}, events=0, unparsed=0, max_received_at=None)
    written = await pg.fetch(
        "SELECT user_id FROM dim_session WHERE user_id = ANY($1::text[])", [gone, kept]
    )
    assert [row["user_id"] for row in written] == [kept]


async def test_the_fallback_and_promotion_write_nothing_of_a_listed_user(settings, pg, unique):
    gone, late, kept = f"gone-{unique}", f"late-{unique}", f"kept-{unique}"
    since = datetime.now(UTC)
    stored = [
        {**event, "received_at": event["occurred_at"], "schema_version": 1}
        for user in (gone, late, kept)
        for event in (new_event("click", user), new_event("comment", user))
    ]
    facts = build_facts(events_frame(stored), RULES)
    users = [gone, late, kept]
    await pg.execute("INSERT INTO forgotten_users (user_hash) VALUES ($1)", user_hash(gone))
    await insert_fact_rows(pg, fact_rows(facts, "pandas"), "fact_user_event_fallback")
    await replace_sessions(
        pg, build_sessions(facts, RULES), users, "dim_session_fallback", "pandas"
    )
    for table in ("fact_user_event_fallback", "dim_session_fallback"):
        assert await users_in(pg, table, users) == {late, kept}, table
    # Listed after the fallback built their rows, before an admin promotes them.
    await pg.execute("INSERT INTO forgotten_users (user_hash) VALUES ($1)", user_hash(late))
    pool = PostgresPool(settings.database_url)
    try:
        await promote(pool, RULES, "test", since=since - timedelta(minutes=1))
    finally:
        await pool.close()
    for table in ("fact_user_event", "dim_session"):
        assert await users_in(pg, table, users) == {kept}, table


async def users_in(pg, table: str, users: list[str]) -> set[str]:
    rows = await pg.fetch(f"SELECT user_id FROM {table} WHERE user_id = ANY($1::text[])", users)
    return {row["user_id"] for row in rows}


async def test_prestart_indexed_the_backups_by_user(settings):
    """`make up` ran prestart before the suite: an erasure finds a user's backups by index."""
    client: AsyncMongoClient = AsyncMongoClient(settings.mongo_url)
    try:
        indexes = await client[settings.mongo_database].user_logs.index_information()
    finally:
        await client.close()
    assert [("user_id", 1)] in [index["key"] for index in indexes.values()]


async def test_the_audit_ledgers_find_a_users_rows_by_index(pg):
    """Without it, an erasure reads both ledgers whole, in time growing with them."""
    async with pg.transaction():
        await pg.execute("SET LOCAL enable_seqscan = off")  # else small tables are walked
        for table in AUDIT_TABLES:
            plan = await pg.fetch(f"EXPLAIN DELETE FROM {table} WHERE user_hash = $1", b"x" * 32)
            assert "Seq Scan" not in "\n".join(row[0] for row in plan), table
