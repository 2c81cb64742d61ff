"""Prometheus metrics of the pipeline, served on `/metrics`."""

from __future__ import annotations

import os
from functools import partial

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client import Gauge as PerProcessGauge
from prometheus_client.multiprocess import MultiProcessCollector

# With several processes (API workers), a gauge reads as the value last set by any of them:
# each is set by whichever process measured it, and a restarted worker's old value is older.
Gauge = partial(PerProcessGauge, multiprocess_mode="mostrecent")


def registry() -> CollectorRegistry:
    """Every process's metrics when several share a folder (API workers), else this one's."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    merged = CollectorRegistry()
    MultiProcessCollector(merged)
    return merged


EVENTS_ACCEPTED = Counter(
    "events_accepted_total",
    "Events acknowledged by Kafka and answered 202 (200 on the Segment routes; Segment messages "
    "kept raw as event type segment)",
    ["event_type"],
)
EVENTS_REJECTED = Counter(
    "events_rejected_total", "Events or requests refused at ingest, by reason", ["reason"]
)
PUBLISH_LATENCY = Histogram(
    "publish_latency_seconds",
    "Time from sending a request's events to Kafka's acknowledgement of all of them",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SEGMENT_MESSAGES = Counter(
    "segment_messages_total",
    "Messages of the Segment protocol by type and outcome: modelled (an event), kept_raw "
    "(backed up only) or malformed (refused)",
    ["kind", "outcome"],
)
RATE_LIMITED = Counter(
    "requests_rate_limited_total", "Requests answered 429: a client over its limit", ["limit"]
)
PUBLISH_FAILURES = Counter("publish_failures_total", "Requests answered 503: Kafka did not ack")
CONSUMER_LAG = Gauge(
    "consumer_lag_messages",
    "Messages behind the end of the partition",
    ["group", "topic", "partition"],
)
CONSUMER_OFFSET_GAPS = Counter(
    "consumer_offset_gap_messages_total",
    "Messages Kafka's retention removed before the consumer group read them",
    ["group"],
)
ROWS_WRITTEN = Counter(
    "rows_written_total", "Records written by a consumer's sink (duplicates included)", ["sink"]
)
STORE_RETRIES = Counter(
    "store_retries_total", "Writes retried because the store was unavailable", ["sink"]
)
SPARK_LAG = Gauge("spark_lag_messages", "Messages in the user topics Spark has not processed")
SPARK_LAST_BATCH_AGE = Gauge(
    "spark_last_batch_age_seconds", "Seconds since the Spark stream committed a batch"
)
FALLBACK_RUNS = Counter("fallback_runs_total", "pandas fallback runs started", ["trigger"])
DEAD_LETTERS = Counter(
    "dead_letters_total", "Messages sent to the dead-letter topic", ["group", "reason"]
)
EVENT_ID_CONFLICTS = Counter(
    "event_id_conflicts_total", "Events whose id was already staged with other content"
)
ERASED_EVENTS_DROPPED = Counter(
    "erased_user_events_dropped_total",
    "Events of users erased by forget-user that a sink dropped instead of writing",
    ["sink"],
)
REBALANCES = Counter("consumer_rebalances_total", "Partitions revoked from a consumer", ["group"])
SPARK_RESTARTS = Counter("spark_restarts_total", "Spark stream restarts after a failure")
SPARK_CHECKPOINT_RESETS = Gauge(
    "spark_checkpoint_resets", "Times the Spark stream's checkpoint was found started afresh"
)
SPARK_OFFSET_GAPS = Gauge(
    "spark_offset_gaps", "Ranges of Kafka offsets lost to retention before Spark read them"
)
AUDIT_OPEN_FINDINGS = Gauge(
    "audit_open_findings", "Open findings of the audit: stages that disagree", ["stage", "kind"]
)
AUDIT_COMPLETENESS = Gauge(
    "audit_completeness_ratio",
    "Acknowledged events of the checked windows that are in the model or await promotion",
    ["period"],
)
AUDIT_RECONCILED = Gauge(
    "audit_reconciled_timestamp_seconds", "When the reconciler last finished a pass (Unix time)"
)
AUDIT_CANARY_LATENCY = Histogram(
    "audit_canary_latency_seconds",
    "From a canary's receipt to each stage holding it",
    ["stage"],
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
)
AUDIT_CANARY_MODELLED = Gauge(
    "audit_canary_modelled_timestamp_seconds",
    "When the newest canary to reach the model was received (Unix time)",
)
AUDIT_TABLE_CHECK_FAILURES = Gauge(
    "audit_table_check_failures", "Rows failing a declared table check (0: it passes)", ["check"]
)
