"""The audit against the consumer groups, each in a process of its own as operators scale them
out: a group stopped is a stall until it runs again; records deleted from a user topic before
any group read them are named as missing, from ingest's receipts; the scheduler runs the
audit and the canary, and a canary that stops being sent is a finding."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from app.audit.canary import follow_canaries
from app.config import Settings
from app.db.postgres import PostgresPool
from app.producers.kafka_admin import end_offsets
from app.topics import USER_TOPICS
from tests.e2e.audit_support import audit_findings, named, post_events, until
from tests.event_factory import new_event
from tests.support import REPO_ROOT, ServiceProcess

GROUPS = ("postgres-staging", "mongo-backup", "audit-receipts")
CONSUMED = ("acknowledged", "backed_up", "staged")  # no Spark here: the model lags, rightly
# A fetch sent before a group was stopped may still bring records in; it ends after this.
FETCH_WAIT_SECONDS = 1.5


@pytest.fixture(scope="module")
def service() -> Iterator[ServiceProcess]:
    """Ingest alone: the consumer groups run apart."""
    process = ServiceProcess(RUN_CONSUMERS="false")
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def groups(service) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    processes = {
        group: subprocess.Popen(
            [sys.executable, "-m", "app.consumers", group],
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for group in GROUPS
    }
    yield processes
    for process in processes.values():
        process.send_signal(signal.SIGCONT)
        process.send_signal(signal.SIGTERM)
    for process in processes.values():
        process.wait(timeout=30)


@pytest.fixture
async def postgres(settings: Settings) -> AsyncIterator[PostgresPool]:
    pool = PostgresPool(settings.database_url)
    yield pool
    await pool.close()


async def held(pg: asyncpg.Connection, table: str, ids: list[str]) -> int:
    return await pg.fetchval(f"SELECT count(*) FROM {table} WHERE event_id = ANY($1::uuid[])", ids)


async def everywhere(pg: asyncpg.Connection, ids: list[str]) -> bool:
    tables = ("audit.acknowledged", "audit.backed_up", "stg_user_logs")
    return all([await held(pg, table, ids) == len(ids) for table in tables])


def clicks(count: int) -> list[dict]:
    user = f"audit-{uuid.uuid4().hex[:8]}"
    return [new_event("click", user) for _ in range(count)]


async def test_a_stopped_consumer_group_is_a_stall_until_it_runs_again(
    service, groups, settings, pg, postgres
):
    warm = await post_events(service.base_url, clicks(1))
    await until(lambda: everywhere(pg, warm), 90, "the groups joined and wrote")
    started = datetime.now(UTC)
    groups["postgres-staging"].send_signal(signal.SIGSTOP)
    try:
        await asyncio.sleep(FETCH_WAIT_SECONDS)
        ids = await post_events(service.base_url, clicks(3))
        await until(lambda: held_all(pg, "audit.backed_up", ids), 60, "the backup wrote them")

        findings = await audit_findings(postgres, settings, started, ids, CONSUMED)

        assert named(findings, ids) == {("staged", "stalled"): set(ids)}
    finally:
        groups["postgres-staging"].send_signal(signal.SIGCONT)
    await until(lambda: everywhere(pg, ids), 90, "staging caught up")
    assert await audit_findings(postgres, settings, started, ids, CONSUMED) == []


async def held_all(pg: asyncpg.Connection, table: str, ids: list[str]) -> bool:
    return await held(pg, table, ids) == len(ids)


async def test_records_deleted_from_a_topic_before_any_group_read_them_are_named(
    service, groups, settings, pg, postgres
):
    warm = await post_events(service.base_url, clicks(1))
    await until(lambda: everywhere(pg, warm), 90, "the groups are reading")
    started = datetime.now(UTC)
    for group in ("postgres-staging", "mongo-backup"):
        groups[group].send_signal(signal.SIGSTOP)
    try:
        await asyncio.sleep(FETCH_WAIT_SECONDS)
        lost = await post_events(service.base_url, clicks(3))
        await until(lambda: held_all(pg, "audit.acknowledged", lost), 60, "receipts were read")
        await delete_to_the_end(settings, USER_TOPICS["click"])
        marker = await post_events(service.base_url, clicks(1))
    finally:
        for group in ("postgres-staging", "mongo-backup"):
            groups[group].send_signal(signal.SIGCONT)
    await until(lambda: everywhere(pg, marker), 90, "the groups read past the deleted records")

    findings = await audit_findings(postgres, settings, started, lost, CONSUMED)

    assert named(findings, lost) == {
        ("backed_up", "missing"): set(lost),
        ("staged", "missing"): set(lost),
    }


async def delete_to_the_end(settings: Settings, topic: str) -> None:
    ends = await end_offsets(settings.kafka_bootstrap_servers, [topic])
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_records(
            {TopicPartition(t, p): RecordsToDelete(end) for (t, p), end in ends.items()}
        )
    finally:
        await admin.close()


async def test_a_canary_no_longer_sent_is_a_finding(pg):
    newest = await pg.fetchval("SELECT max(received_at) FROM audit.canaries")
    if newest is None:  # a stack that never ran the canary: one sent five minutes ago
        newest = datetime.now(UTC) - timedelta(minutes=5)
        await pg.execute(
            "INSERT INTO audit.canaries (event_id, received_at, acknowledged_at, backed_up_at, "
            "staged_at, modelled_at) VALUES ($1, $2, $2, $2, $2, $2)",
            uuid.uuid4(),
            newest,
        )
    later = newest + timedelta(minutes=4)

    async with pg.transaction():
        findings = await follow_canaries(pg, 180, 60, later)

    [stopped] = [f for f in findings if f.events == 0]
    assert (stopped.stage, stopped.kind) == ("canary", "stalled")
    assert "no canary sent since" in stopped.detail
    async with pg.transaction():  # sent again (its newest is recent): the finding closes
        assert not [f for f in await follow_canaries(pg, 180, 60, newest) if f.events == 0]
    assert not await pg.fetchval(
        "SELECT count(*) FROM audit.findings WHERE stage = 'canary' AND events = 0 "
        "AND closed_at IS NULL"
    )


async def test_the_scheduler_runs_the_audit_and_the_canary(settings, pg):
    started = datetime.now(UTC)
    every_second = "* * * * * *"
    scheduled = ServiceProcess(
        AUDIT_CRON=every_second, AUDIT_CANARY_CRON=every_second, AUDIT_GRACE_SECONDS="0"
    )
    scheduled.start()
    try:
        metrics = await asyncio.to_thread(wait_for_metrics, scheduled.ops_url)
    finally:
        scheduled.stop()
        # No Spark runs here: its canaries would be late in later tests' minutes.
        await pg.execute("DELETE FROM audit.canaries WHERE received_at >= $1", started)
    assert sample(metrics, "audit_reconciled_timestamp_seconds") > 0, "a pass finished"
    assert sample(metrics, 'audit_canary_latency_seconds_count{stage="acknowledged"}') > 0
    assert 0 <= sample(metrics, 'audit_completeness_ratio{period="hour"}') <= 1


def sample(metrics: str, name: str) -> float:
    [value] = [
        line.rsplit(" ", 1)[1] for line in metrics.splitlines() if line.startswith(name + " ")
    ]
    return float(value)


def wait_for_metrics(ops_url: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = httpx.get(f"{ops_url}/metrics", timeout=5).text
        if "canary_latency_seconds_count" in text and "audit_completeness_ratio" in text:
            return text
        time.sleep(1)
    raise AssertionError("the scheduler ran no audit pass and sent no canary within 60 s")
