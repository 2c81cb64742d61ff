"""The audit's summary and its gauges, read from the audit's own tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.audit.summary import audit_summary, publish_audit_metrics
from app.metrics import AUDIT_COMPLETENESS, AUDIT_OPEN_FINDINGS

STAGE = "test-summary"


def gauge(metric, **labels: str) -> float:
    for family in metric.collect():
        for sample in family.samples:
            if sample.labels == labels:
                return sample.value
    raise AssertionError(f"no sample with {labels}")


async def test_an_open_finding_counts_until_it_closes_then_its_gauge_reads_zero(pg):
    window = datetime(1996, 8, 10, 21, 45, tzinfo=UTC)
    finding = await pg.fetchval(
        "INSERT INTO audit.findings (stage, window_start, kind, events, sample_ids, detail) "
        "VALUES ($1, $2, 'missing', 3, '{a,b,c}', 'a test') RETURNING finding_id",
        STAGE,
        window,
    )
    try:
        summary = await audit_summary(pg, limit=1000)
        await publish_audit_metrics(pg, summary)
        assert gauge(AUDIT_OPEN_FINDINGS, stage=STAGE, kind="missing") == 1
        listed = [f for f in summary.open_findings if f["finding_id"] == finding]
        assert [(f["events"], f["sample_ids"]) for f in listed] == [(3, ["a", "b", "c"])]

        await pg.execute(
            "UPDATE audit.findings SET closed_at = now() WHERE finding_id = $1", finding
        )
        await publish_audit_metrics(pg, await audit_summary(pg))
        assert gauge(AUDIT_OPEN_FINDINGS, stage=STAGE, kind="missing") == 0
    finally:
        await pg.execute("DELETE FROM audit.findings WHERE finding_id = $1", finding)


async def test_completeness_is_what_was_accounted_of_what_was_acknowledged(pg):
    transaction = pg.transaction()  # rolled back: the windows are the stack's own
    await transaction.start()
    try:
        await pg.execute("DELETE FROM audit.windows WHERE window_start > now() - interval '1 day'")
        recent = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
        earlier = recent - timedelta(hours=3)
        await pg.executemany(
            "INSERT INTO audit.windows (window_start, acknowledged, accounted, open_findings) "
            "VALUES ($1, $2, $3, 0)",
            [(recent, 10_000, 9_999), (earlier, 10_000, 10_000)],
        )
        summary = await audit_summary(pg)
        await publish_audit_metrics(pg, summary)
        view = await pg.fetchval(
            "SELECT completeness FROM analytics.audit_completeness WHERE window_start = $1", recent
        )
    finally:
        await transaction.rollback()
    hour, day = summary.periods["hour"], summary.periods["day"]
    assert (hour.acknowledged, hour.accounted) == (10_000, 9_999)
    assert (day.acknowledged, day.accounted) == (20_000, 19_999)
    assert gauge(AUDIT_COMPLETENESS, period="hour") == 0.9999
    assert view == 0.9999
