"""What the pipeline page shows: ingest, each consumer group's lag, Spark, the fallback and the
catalogue, gathered at most once per interval however many pages ask.

A part whose store is down is null and named in `unavailable`, so the page can say what is
missing rather than show blanks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import BaseModel, Field

from app.audit.summary import AuditSummary, audit_summary
from app.bootstrap import Resources
from app.catalogue import queries as catalogue_queries
from app.config import FallbackMode
from app.consumers.lag import consumer_lags
from app.consumers.offset_gaps import messages_lost_by_group
from app.metrics import registry
from app.model import queries as model_queries
from app.ops.ingest_totals import IngestTotals, ingest_totals
from app.ops.readiness import ReadinessMonitor
from app.ops.storage_upkeep import last_upkeep_run

log = logging.getLogger(__name__)
T = TypeVar("T")


class Ingest(BaseModel):
    accepted: int = Field(description="Events acknowledged since the service started.")
    rejected: dict[str, int] = Field(description="Events or requests refused, by reason.")
    accepted_per_second: float | None = Field(
        description="Since the previous reading (at least STATUS_REFRESH_SECONDS before, and "
        "as long before as nobody asked); null on the first."
    )
    rejected_per_second: float | None


class Spark(BaseModel):
    lag_messages: int
    last_batch_at: datetime | None
    last_batch_events: int | None
    lagging: bool


class Fallback(BaseModel):
    mode: FallbackMode
    awaiting_promotion: int = Field(description="Fallback facts an admin has yet to promote.")


class CatalogueSync(BaseModel):
    kind: str
    status: str
    finished_at: datetime
    movies_fetched: int
    movies_changed: int
    movies: int = Field(description="Movies the catalogue holds now.")


class AuditFinding(BaseModel):
    stage: str
    window_start: datetime
    kind: str = Field(description="missing, extra, duplicate or stalled.")
    events: int
    detail: str
    sample_ids: list[str]


class Audit(BaseModel):
    completeness_hour: float = Field(
        description="Of the events acknowledged in the checked minutes of the last hour, the "
        "share in the model or awaiting promotion (the promise: at least 0.9999)."
    )
    completeness_day: float
    acknowledged_hour: int
    acknowledged_day: int
    open_findings: int
    findings: list[AuditFinding] = Field(description="The oldest open findings, up to 10.")
    canary_seconds: dict[str, float | None] = Field(
        description="The newest canary: seconds from its receipt to each stage (null: not yet)."
    )
    last_checked_at: datetime | None


class StorageUpkeep(BaseModel):
    ran_at: datetime = Field(description="The last storage upkeep run.")
    kept_since: datetime = Field(
        description="Staging's retention cutoff: partitions wholly received before it dropped."
    )
    added: list[str]
    dropped: list[str]
    rows_dropped: int
    oldest_kept: datetime | None = Field(
        description="Where the oldest staging partition begins (null: the rows from before "
        "partitioning)."
    )
    covered_until: datetime | None = Field(
        description="Where the newest staging partition ends; writes past it would wait for one."
    )


class PipelineStatus(BaseModel):
    measured_at: datetime
    unavailable: list[str] = Field(
        description="Dependencies that did not answer: kafka, mongo, postgres."
    )
    ingest: Ingest
    consumer_lag: dict[str, int] | None = Field(
        description="Messages each consumer group has yet to commit; null while Kafka is down."
    )
    consumer_offset_gaps: dict[str, int] | None = Field(
        description="Messages each group never read because Kafka's retention removed them "
        "first (see consumer_offset_gaps); null while PostgreSQL is down."
    )
    spark: Spark | None
    fallback: Fallback | None
    catalogue: CatalogueSync | None = Field(description="The last sync that ended, if any.")
    audit: Audit | None = Field(description="The audit's accounts; null while PostgreSQL is down.")
    storage: StorageUpkeep | None = Field(
        description="The last storage upkeep run; null before the first, or while PostgreSQL "
        "is down."
    )


@dataclass(frozen=True)
class FromPostgres:
    fallback: Fallback
    catalogue: CatalogueSync | None
    last_batch_events: int | None
    consumer_gaps: dict[str, int]
    audit: Audit
    storage: StorageUpkeep | None


class StatusMonitor:
    """Gathers on demand; callers within `interval_seconds` of a reading share it."""

    def __init__(
        self, resources: Resources, readiness: ReadinessMonitor, interval_seconds: float
    ) -> None:
        self._resources, self._readiness = resources, readiness
        self._interval = interval_seconds
        self._lock = asyncio.Lock()
        self._latest: PipelineStatus | None = None
        self._measured = 0.0
        self._previous: tuple[float, IngestTotals] | None = None

    async def latest(self) -> PipelineStatus:
        async with self._lock:
            if self._latest is None or time.monotonic() - self._measured >= self._interval:
                self._latest = await self._gather()
                self._measured = time.monotonic()
            return self._latest

    async def _gather(self) -> PipelineStatus:
        readiness = await self._readiness.latest()
        down = [probe.name for probe in readiness.probes if not probe.ok]
        servers = self._resources.settings.kafka_bootstrap_servers
        lags, pg = await asyncio.gather(
            self._bounded(consumer_lags(servers)) if "kafka" not in down else skipped(),
            self._bounded(self._from_postgres()) if "postgres" not in down else skipped(),
        )
        if pg is None and "postgres" not in down:
            down.append("postgres")
        if lags is None and "kafka" not in down:
            down.append("kafka")
        lag = readiness.spark
        settings = self._resources.settings
        spark = (
            Spark(
                lag_messages=lag.lag_messages,
                last_batch_at=lag.last_batch_at,
                last_batch_events=pg.last_batch_events,
                lagging=lag.is_lagging(
                    settings.spark_lag_threshold_messages, settings.spark_stale_seconds
                ),
            )
            if lag is not None and pg is not None
            else None
        )
        return PipelineStatus(
            measured_at=datetime.now(UTC),
            unavailable=sorted(down),
            ingest=self._ingest(),
            consumer_lag=lags,
            consumer_offset_gaps=pg.consumer_gaps if pg else None,
            spark=spark,
            fallback=pg.fallback if pg else None,
            catalogue=pg.catalogue if pg else None,
            audit=pg.audit if pg else None,
            storage=pg.storage if pg else None,
        )

    def _ingest(self) -> Ingest:
        now, totals = time.monotonic(), ingest_totals(registry())
        rates: tuple[float | None, float | None] = (None, None)
        if self._previous is not None and now > self._previous[0]:
            before, seconds = self._previous[1], now - self._previous[0]
            rates = (
                max(0, totals.accepted - before.accepted) / seconds,
                max(0, totals.rejected_count - before.rejected_count) / seconds,
            )
        self._previous = (now, totals)
        return Ingest(
            accepted=totals.accepted,
            rejected=totals.rejected,
            accepted_per_second=rates[0],
            rejected_per_second=rates[1],
        )

    async def _from_postgres(self) -> FromPostgres:
        settings = self._resources.settings
        async with self._resources.postgres.connection() as connection:
            mode = await model_queries.fallback_mode(connection, settings.fallback_mode)
            waiting = await model_queries.count_awaiting_promotion(connection, None, None)
            sync = await catalogue_queries.last_finished_run(connection)
            batches = await model_queries.recent_spark_batches(
                connection, settings.spark_checkpoint_dir, limit=1
            )
            gaps = await messages_lost_by_group(connection)
            audit = await audit_summary(connection, limit=10)
            upkeep = await last_upkeep_run(connection)
        return FromPostgres(
            Fallback(mode=mode, awaiting_promotion=waiting),
            CatalogueSync(**dict(sync)) if sync else None,
            batches[0]["events"] if batches else None,
            gaps,
            audit_view(audit),
            StorageUpkeep.model_validate(upkeep, from_attributes=True) if upkeep else None,
        )

    async def _bounded(self, work: Awaitable[T]) -> T | None:
        try:
            async with asyncio.timeout(self._resources.settings.readiness_timeout_seconds):
                return await work
        except Exception:  # shown as unavailable; the probes say why
            log.warning("a status reading failed", exc_info=True)
            return None


def audit_view(summary: AuditSummary) -> Audit:
    hour, day, canary = summary.periods["hour"], summary.periods["day"], summary.canary or {}
    return Audit(
        completeness_hour=hour.completeness,
        completeness_day=day.completeness,
        acknowledged_hour=hour.acknowledged,
        acknowledged_day=day.acknowledged,
        open_findings=summary.open_count,
        findings=[
            AuditFinding(**{key: finding[key] for key in AuditFinding.model_fields})
            for finding in summary.open_findings
        ],
        canary_seconds={
            stage: None if canary.get(stage) is None else float(canary[stage])
            for stage in ("backed_up", "staged", "modelled")
        },
        last_checked_at=summary.last_checked,
    )


async def skipped() -> None:
    """In place of a reading from a dependency the probes found down."""
