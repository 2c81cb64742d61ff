"""The Spark stream: Kafka's user topics → fact_user_event and dim_session (source 'spark').

Each record is parsed with an explicit schema and run through the rules; each micro-batch is
merged once per event (the first copy) with idempotent upserts, and the sessions of every user
in it are rebuilt from their facts, from a bound (jobs/spark/batch_store.py), so late events
extend or merge sessions. Progress lives in the checkpoint and, for the health check, in
PostgreSQL.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.rules import Rules
from jobs.spark import batch_store as store
from jobs.spark.records import parse_records
from jobs.spark.session import SparkConfig, build_spark_session, jdbc_options
from jobs.spark.transforms import build_sessions, fact_records, incoming_facts

log = logging.getLogger(__name__)
KAFKA_FETCH_WAIT_MS = 20
JDBC_FETCH_ROWS = 10_000  # the driver otherwise holds a whole result in memory


@dataclass(frozen=True)
class StreamConfig:
    bootstrap_servers: str
    topics: tuple[str, ...]
    checkpoint_dir: str  # also names the stream in the bookkeeping: batch ids count per checkpoint
    database_url: str  # postgresql://, for the driver's bookkeeping and Spark's JDBC
    starting_offsets: str = "earliest"
    max_offsets_per_trigger: int = 200_000
    trigger_seconds: float = 5.0
    available_now: bool = False  # drain what Kafka holds, then stop
    spark: SparkConfig = field(default_factory=SparkConfig)


class FactBatchWriter:
    """Writes each micro-batch of `fact_records`. Both plans, the facts' and the sessions', are
    built once: building them anew took a third of a small batch's time."""

    def __init__(self, spark: SparkSession, config: StreamConfig, rules: Rules) -> None:
        self.dsn, self.gap_seconds = config.database_url, rules.inactivity_gap_seconds
        self.jdbc = jdbc_options(config.database_url)
        self.stream = config.checkpoint_dir
        self.tasks = spark.sparkContext.defaultParallelism
        # Read anew by every batch: the facts of the users of the batch in flight, from bounds,
        # a share of the users per task. One task read and sorted them alone, 8 s a million.
        connection = {key: value for key, value in self.jdbc.items() if key != "url"}
        users_facts = spark.read.jdbc(
            self.jdbc["url"],
            f"({store.facts_of_stream_users_query(self.stream)}) AS batch_users_facts",
            predicates=store.user_shares(self.tasks),
            properties={**connection, "fetchsize": str(JDBC_FETCH_ROWS)},
        )
        self.sessions = build_sessions(users_facts, rules)

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        with store.DriverConnection(self.dsn, writers=self.tasks) as db:
            if db.run(lambda c: store.is_committed(c, self.stream, batch_id)):
                return  # a batch replayed after a restart: its writes are already in
            # A task per core, not per Kafka partition: a small batch's tasks cost more to run
            # than their records. Read from Kafka and built once, read twice.
            records = batch.coalesce(self.tasks).persist()
            try:
                self._write(db, records, batch_id)
            finally:
                records.unpersist()

    def _write(self, db: store.DriverConnection, records: DataFrame, batch_id: int) -> None:
        phases = Phases()
        partitions = (
            records.groupBy("topic", "partition")
            .agg(
                F.min("offset").alias("first_offset"),
                (F.max("offset") + 1).alias("next_offset"),
                F.count("parse_error").alias("unparsed"),  # counts the non-null errors
            )
            .collect()
        )
        if not partitions:
            return
        offsets = {
            (row["topic"], row["partition"]): (row["first_offset"], row["next_offset"])
            for row in partitions
        }
        unparsed = sum(row["unparsed"] for row in partitions)
        phases.ended("read and built")
        db.run(lambda c: store.clear_incoming(c, self.stream))
        self._append(incoming_facts(records), batch_id, "spark_incoming_facts")
        phases.ended("facts out")
        events, latest = db.run_on_all(
            lambda cs: store.merge_facts(cs, self.stream, batch_id, self.gap_seconds)
        )
        phases.ended("facts merged")
        self._append(self.sessions, batch_id, "spark_incoming_sessions")
        phases.ended("sessions built")
        db.run(
            lambda c: store.commit_batch(
                c, self.stream, batch_id, offsets, events, unparsed, latest
            )
        )
        phases.ended("committed")
        log.info("%s", phases.summary(batch_id, events))

    def _append(self, frame: DataFrame, batch_id: int, table: str) -> None:
        marks = {"stream": F.lit(self.stream), "batch_id": F.lit(batch_id),
                 "source_flag": F.lit("spark")}  # fmt: skip
        frame.withColumns(marks).write.format("jdbc").options(**self.jdbc, dbtable=table).mode(
            "append"
        ).save()


class Phases:
    """Seconds per step of a batch, for the log: where a batch's time goes, batch by batch."""

    def __init__(self) -> None:
        self._mark = time.perf_counter()
        self._seconds: list[tuple[str, float]] = []

    def ended(self, phase: str) -> None:
        now = time.perf_counter()
        self._seconds.append((phase, now - self._mark))
        self._mark = now

    def summary(self, batch_id: int, events: int) -> str:
        """`batch 3: 250000 events; read and built 5.01 s, facts out 4.02 s, ...`, which
        bench.model reads back from the log."""
        steps = ", ".join(f"{phase} {seconds:.2f} s" for phase, seconds in self._seconds)
        return f"batch {batch_id}: {events} events; {steps}"


def has_committed_batches(checkpoint_dir: str) -> bool | None:
    """Whether a local checkpoint holds committed batches; None where it is not a local path
    (a cluster's HDFS or object store), which this check leaves alone."""
    if "://" in checkpoint_dir and not checkpoint_dir.startswith("file://"):
        return None
    commits = Path(checkpoint_dir.removeprefix("file://")) / "commits"
    return commits.is_dir() and any(entry.name.isdigit() for entry in commits.iterdir())


def run_stream(config: StreamConfig, rules: Rules) -> None:
    if has_committed_batches(config.checkpoint_dir) is False:
        forgotten = store.run_with_connection(
            config.database_url,
            lambda c: store.forget_batches_of_a_new_checkpoint(c, config.checkpoint_dir),
        )
        if forgotten:
            log.error(
                "the checkpoint starts afresh where %d batches were recorded: a checkpoint "
                "reset; their records are forgotten so no new batch is skipped",
                forgotten,
            )
    spark = build_spark_session("movie-facts", config.spark)
    source = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", config.bootstrap_servers)
        .option("subscribe", ",".join(config.topics))
        .option("startingOffsets", config.starting_offsets)
        .option("failOnDataLoss", "false")
        # With the default 500 ms, reading a small micro-batch's 9 ranges took 3.4 s, with 10 ms
        # 1.0 s: the tasks' fetches waited out the broker's wait. Records already there come
        # back at once either way.
        .option("kafka.fetch.max.wait.ms", str(KAFKA_FETCH_WAIT_MS))
        .option("maxOffsetsPerTrigger", config.max_offsets_per_trigger)
        .load()
    )
    records = fact_records(parse_records(source), rules)
    writer = records.writeStream.foreachBatch(FactBatchWriter(spark, config, rules))
    writer = writer.option("checkpointLocation", config.checkpoint_dir)
    if config.available_now:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=f"{config.trigger_seconds} seconds")
    query = writer.queryName("movie-facts").start()
    try:
        query.awaitTermination()
    finally:
        spark.stop()
