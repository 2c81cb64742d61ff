"""The audit against a running pipeline (the service, its consumers and a Spark stream), broken
on purpose: each break is caught and its events named; a pipeline that works has no finding."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from pymongo import AsyncMongoClient

from app.audit.backup_count import check_backup_count
from app.audit.canary import follow_canaries, send_canary
from app.audit.ledger_reads import duplicated_ids
from app.audit.reconciler import MINUTE, floor_minute, reconcile
from app.bootstrap import build_resources
from app.config import Settings
from app.db.postgres import PostgresPool
from app.metrics import AUDIT_CANARY_LATENCY
from tests.e2e.audit_support import (
    audit_command,
    audit_findings,
    named,
    post_events,
    until,
    windows_since,
)
from tests.e2e.model_support import run_job, spawn_job, starting_offsets_now
from tests.event_factory import new_event


@dataclass(frozen=True)
class SparkStream:
    process: subprocess.Popen[bytes]
    checkpoint: str  # its stream's name in spark_batches

    def poll(self) -> int | None:
        return self.process.poll()


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkStream]:
    """A Spark stream from the end of the topics as they are now, a batch every second."""
    offsets = asyncio.run(starting_offsets_now(Settings()))
    checkpoint = str(tmp_path_factory.mktemp("audit-spark") / "checkpoint")
    process = spawn_job("spark", SPARK_CHECKPOINT_DIR=checkpoint,
                        SPARK_STARTING_OFFSETS=offsets, SPARK_TRIGGER_SECONDS="1")  # fmt: skip
    yield SparkStream(process, checkpoint)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


@asynccontextmanager
async def put_back_afterwards(pg: asyncpg.Connection, ids: list[str]) -> AsyncIterator[None]:
    """The test deletes some of these facts; they are restored after it, rollups rebuilt, so
    the minutes later tests share hold no leftover of the break."""
    rows = await pg.fetch("SELECT * FROM fact_user_event WHERE event_id = ANY($1::uuid[])", ids)
    try:
        yield
    finally:
        columns = list(rows[0].keys())
        await pg.execute("DELETE FROM fact_user_event WHERE event_id = ANY($1::uuid[])", ids)
        await pg.copy_records_to_table(
            "fact_user_event", records=[tuple(row) for row in rows], columns=columns
        )
        days = sorted({row["event_date"] for row in rows})
        await pg.execute("SELECT rebuild_rollups($1, $2)", days[0], days[-1])


@pytest.fixture
async def postgres(settings: Settings) -> AsyncIterator[PostgresPool]:
    pool = PostgresPool(settings.database_url)
    yield pool
    await pool.close()


async def modelled(pg: asyncpg.Connection, ids: list[str]) -> bool:
    found = await pg.fetchval(
        "SELECT count(*) FROM fact_user_event WHERE event_id = ANY($1::uuid[])", ids
    )
    return found == len(ids)


async def through_the_model(service, spark, pg, count: int) -> tuple[datetime, list[str]]:
    """Events of a fresh user, once Spark has modelled them all."""
    started = datetime.now(UTC)
    user = f"audit-{uuid.uuid4().hex[:8]}"
    kinds_of = ("watch", "click", "comment")
    ids = await post_events(
        service.base_url, [new_event(kinds_of[n % 3], user) for n in range(count)]
    )
    assert spark.poll() is None, "the Spark stream exited"
    await until(lambda: modelled(pg, ids), 180, "Spark modelled the events")
    await until(lambda: batch_committed(pg, spark, ids), 60, "Spark committed their batch")
    return started, ids


BATCH_OF_THE_EVENTS = (
    "SELECT b.max_received_at, (SELECT max(p.max_received_at) FROM spark_batches p "
    "WHERE p.stream = b.stream AND p.batch_id < b.batch_id) AS before "
    "FROM spark_batches b WHERE b.stream = $1 AND b.max_received_at >= "
    "(SELECT max(received_at) FROM fact_user_event WHERE event_id = ANY($2::uuid[])) "
    "ORDER BY b.batch_id LIMIT 1"
)


async def batch_committed(pg: asyncpg.Connection, spark: SparkStream, ids: list[str]) -> bool:
    """The facts are in before their batch's record, which says how far Spark has got."""
    return await pg.fetchrow(BATCH_OF_THE_EVENTS, spark.checkpoint, ids) is not None


async def test_a_pipeline_that_works_has_no_finding(service, spark, settings, pg, postgres):
    started, ids = await through_the_model(service, spark, pg, 6)

    checks = await reconcile(postgres, settings, windows=windows_since(started))

    ours = [f for check in checks for f in check.findings if set(ids) & set(f.sample_ids)]
    assert ours == []
    assert sum(check.acknowledged for check in checks) >= len(ids)


async def test_a_staged_row_deleted_by_hand_is_named_and_closes_once_restaged(
    service, spark, settings, pg, postgres
):
    started, ids = await through_the_model(service, spark, pg, 3)
    await pg.execute("DELETE FROM stg_user_logs WHERE event_id = $1", uuid.UUID(ids[0]))

    findings = await audit_findings(postgres, settings, started, ids)

    assert named(findings, ids) == {
        ("staged", "missing"): {ids[0]},
        ("modelled", "extra"): {ids[0]},
    }

    # Replayed from the backup, the event is staged again, and the findings close themselves.
    run_job("replay", "--since", started.isoformat(), "--until", datetime.now(UTC).isoformat())
    await until(lambda: staged(pg, ids[0]), 60, "the replayed event was staged again")
    assert await audit_findings(postgres, settings, started, ids) == []
    still_naming = await pg.fetchval(
        "SELECT count(*) FROM audit.findings WHERE $1 = ANY(sample_ids) AND closed_at IS NULL",
        ids[0],
    )
    assert still_naming == 0, "the findings closed (or, shared, no longer name it)"


async def staged(pg: asyncpg.Connection, event_id: str) -> bool:
    found = await pg.fetchval("SELECT 1 FROM stg_user_logs WHERE event_id = $1::uuid", event_id)
    return found is not None


async def test_a_deleted_fact_is_named(service, spark, settings, pg, postgres):
    started, ids = await through_the_model(service, spark, pg, 2)
    async with put_back_afterwards(pg, ids):
        await pg.execute("DELETE FROM fact_user_event WHERE event_id = $1", uuid.UUID(ids[1]))

        findings = await audit_findings(postgres, settings, started, ids)

        command = audit_command(started)  # as an operator would see it
    assert named(findings, ids) == {("modelled", "missing"): {ids[1]}}
    assert command.returncode == 1, command.stderr
    assert "modelled missing" in command.stdout and ids[1] in command.stdout
    assert await audit_findings(postgres, settings, started, ids) == [], "put back, it closed"


async def test_a_spark_batchs_facts_removed_after_its_commit_are_named(
    service, spark, settings, pg, postgres
):
    started, ids = await through_the_model(service, spark, pg, 5)
    batch = await pg.fetchrow(BATCH_OF_THE_EVENTS, spark.checkpoint, ids)
    in_batch = [
        row[0]
        for row in await pg.fetch(
            "SELECT event_id::text FROM fact_user_event WHERE received_at > $1 "
            "AND received_at <= $2",
            batch["before"],
            batch["max_received_at"],
        )
    ]
    assert set(ids) <= set(in_batch), "the batch held the test's events"
    async with put_back_afterwards(pg, in_batch):
        await pg.execute("DELETE FROM fact_user_event WHERE event_id = ANY($1::uuid[])", in_batch)
        findings = await audit_findings(postgres, settings, started, in_batch)
    removed_ids = set(in_batch)

    assert named(findings, removed_ids) == {("modelled", "missing"): removed_ids}
    assert await audit_findings(postgres, settings, started, in_batch) == []


async def test_a_fact_cannot_be_written_twice_and_a_doubled_event_would_be_named(
    service, spark, settings, pg, postgres
):
    started, [event_id] = await through_the_model(service, spark, pg, 1)
    window = floor_minute(
        await pg.fetchval("SELECT received_at FROM fact_user_event WHERE event_id = $1::uuid",
                          event_id)
    )  # fmt: skip
    ledger = (
        "SELECT events FROM audit.ledger "
        "WHERE stage = 'modelled' AND window_start = $1 AND event_type = 'watch'"
    )
    counted = await pg.fetchval(ledger, window)

    # The fact table's key refuses a second copy, however it comes.
    with pytest.raises(asyncpg.UniqueViolationError):
        await pg.execute(
            "INSERT INTO fact_user_event SELECT * FROM fact_user_event WHERE event_id = $1::uuid",
            event_id,
        )
    # The fallback builds it again, and promoting it adds nothing: the event is modelled.
    range_ = ("--since", started.isoformat(), "--until", datetime.now(UTC).isoformat())
    run_job("fallback", *range_)
    promoted = run_job("promote", "--since", started.isoformat()).stdout
    assert "promote: 0 facts promoted" in promoted, promoted
    assert await pg.fetchval(ledger, window) == counted
    assert await audit_findings(postgres, settings, started, [event_id]) == []

    # Were a key ever to let a copy in (a partitioned table, say), the check would name it.
    transaction = pg.transaction()
    await transaction.start()
    try:
        await pg.execute("SET LOCAL lock_timeout = '10s'")
        await pg.execute("ALTER TABLE stg_user_logs DROP CONSTRAINT stg_user_logs_pkey")
        await pg.execute(
            "INSERT INTO stg_user_logs SELECT * FROM stg_user_logs WHERE event_id = $1::uuid",
            event_id,
        )
        assert await duplicated_ids(pg, "staged", window, window + MINUTE) == [event_id]
    finally:
        await transaction.rollback()


async def test_a_document_deleted_from_the_backup_is_named(service, spark, settings, pg):
    started, ids = await through_the_model(service, spark, pg, 3)
    client: AsyncMongoClient = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    backup = client[settings.mongo_database]["user_logs"]
    await pg.execute("DELETE FROM audit.backup_counts")  # the count's history is the test's own
    try:
        now = datetime.now(UTC)
        assert await check_backup_count(pg, backup, 0, 20, now, since=started) is None
        assert await check_backup_count(pg, backup, 0, 20, now, since=started) is None

        document = await backup.find_one({"_id": ids[1]})
        await backup.delete_one({"_id": ids[1]})
        findings = await check_backup_count(pg, backup, 0, 20, datetime.now(UTC), since=started)

        await backup.insert_one(document)  # put back: the walk then sees it again
        again = await check_backup_count(pg, backup, 0, 20, datetime.now(UTC), since=started)
    finally:
        await client.close()

    assert findings is not None, "the fall in MongoDB's count started a walk"
    assert [(f.stage, f.kind, f.events, f.sample_ids) for f in findings] == [
        ("backup_documents", "missing", 1, (ids[1],))
    ]
    swept = await pg.fetchrow(
        "SELECT swept, missing FROM audit.backup_counts ORDER BY counted_at DESC LIMIT 1"
    )
    assert tuple(swept) == (True, 0), "the walk after the restore found nothing missing"
    assert again == [], "and its finding closed"
    closed = await pg.fetchval(
        "SELECT closed_at FROM audit.findings WHERE stage = 'backup_documents' "
        "AND $1 = ANY(sample_ids)",
        ids[1],
    )
    assert closed is not None


async def test_the_canary_travels_to_the_model_and_counts_nowhere(service, spark, settings, pg):
    observed_before = modelled_observations()
    async with build_resources(settings) as resources:
        event_id = await send_canary(resources)

    await until(lambda: modelled(pg, [event_id]), 120, "the canary reached the model")
    async with pg.transaction():
        await follow_canaries(pg, 180, 60, datetime.now(UTC))
    row = await pg.fetchrow("SELECT * FROM audit.canaries WHERE event_id = $1::uuid", event_id)
    assert None not in (row["acknowledged_at"], row["backed_up_at"], row["staged_at"],
                        row["modelled_at"])  # fmt: skip
    assert modelled_observations() == observed_before + 1
    fact = await pg.fetchrow(
        "SELECT user_id, is_valid, invalid_reason FROM fact_user_event WHERE event_id = $1::uuid",
        event_id,
    )
    assert tuple(fact) == ("pipeline-canary", False, "synthetic")
    for counted in ("rollup_user_day", "rollup_user_movie_day", "dim_session"):
        assert not await pg.fetchval(
            f"SELECT count(*) FROM {counted} WHERE user_id = 'pipeline-canary'"
        ), f"the canary counts in {counted}"
    assert not await pg.fetchval(
        "SELECT count(*) FROM analytics.fallback_awaiting_promotion WHERE user_id = $1",
        "pipeline-canary",
    )


def modelled_observations() -> float:
    for metric in AUDIT_CANARY_LATENCY.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count") and sample.labels.get("stage") == "modelled":
                return sample.value
    return 0.0


async def test_a_canary_that_does_not_reach_the_model_in_time_is_a_stall(settings, pg):
    late = uuid.uuid4()
    sent = datetime.now(UTC) - timedelta(minutes=5)
    await pg.execute(
        "INSERT INTO audit.canaries (event_id, received_at, acknowledged_at) VALUES ($1, $2, $2)",
        late,
        sent,
    )
    try:
        async with pg.transaction():
            findings = await follow_canaries(pg, 180, 60, datetime.now(UTC))
        ours = [f for f in findings if str(late) in f.sample_ids]
        assert [(f.stage, f.kind) for f in ours] == [("canary", "stalled")]
        assert "not the model" in ours[0].detail
    finally:
        await pg.execute("DELETE FROM audit.canaries WHERE event_id = $1", late)
        async with pg.transaction():
            await follow_canaries(pg, 180, 60, datetime.now(UTC))
    still_open = await pg.fetchval(
        "SELECT count(*) FROM audit.findings WHERE $1 = ANY(sample_ids) AND closed_at IS NULL",
        str(late),
    )
    assert still_open == 0, "the finding closed once the canary was no longer late"
