"""Ingest's totals, read back from a metrics registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from app.ops.ingest_totals import IngestTotals, ingest_totals


def test_accepted_events_sum_over_types_and_rejections_keep_their_reasons():
    registry = CollectorRegistry()
    accepted = Counter("events_accepted_total", "", ["event_type"], registry=registry)
    rejected = Counter("events_rejected_total", "", ["reason"], registry=registry)
    Gauge("events_accepted_elsewhere", "", registry=registry).set(1000)
    accepted.labels("watch").inc(5)
    accepted.labels("comment").inc(2)
    rejected.labels("too_long").inc(3)
    rejected.labels("request_413").inc()

    totals = ingest_totals(registry)

    assert totals == IngestTotals(7, {"request_413": 1, "too_long": 3})
    assert totals.rejected_count == 4


def test_a_registry_without_ingest_reads_as_nothing_yet():
    assert ingest_totals(CollectorRegistry()) == IngestTotals(0, {})
