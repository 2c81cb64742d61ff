"""Ingest's counters summed from a metrics registry (every API worker's, when they share one)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry

ACCEPTED = "events_accepted"
REJECTED = "events_rejected"


@dataclass(frozen=True)
class IngestTotals:
    accepted: int
    rejected: dict[str, int]  # by reason

    @property
    def rejected_count(self) -> int:
        return sum(self.rejected.values())


def ingest_totals(registry: CollectorRegistry) -> IngestTotals:
    accepted, rejected = 0.0, {}
    for metric in registry.collect():
        if metric.name not in (ACCEPTED, REJECTED):
            continue
        for sample in metric.samples:
            if not sample.name.endswith("_total"):
                continue  # the `_created` timestamps
            if metric.name == ACCEPTED:
                accepted += sample.value
            else:
                reason = sample.labels["reason"]
                rejected[reason] = rejected.get(reason, 0) + round(sample.value)
    return IngestTotals(round(accepted), dict(sorted(rejected.items())))
