"""The rules as Spark DataFrame code: parsed records (jobs/spark/records.py) in, fact rows and
sessions out. No I/O.

Native Spark SQL functions, so the JVM does the work, except for reading comments: that is
jobs/sentiment.py as a Python UDF (jobs/spark/comments.py), the code pandas runs too. Each
function mirrors its namesake in jobs/pandas/transforms.py; the meaning of each rule is in
jobs/rules.py.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.model_columns import FACT_COLUMNS, SESSION_COLUMNS
from jobs.rules import Rules
from jobs.spark.columns import first_match, floor_div, is_true
from jobs.spark.comments import comment_reading
from jobs.spark.records import SOURCE_COLUMNS

# Python's str.isspace() set, inside a Java character class.
PYTHON_WHITESPACE = r"\t\n\x0B\f\r\x1C-\x1F\x85\p{Z}"
NUMERIC_FIELDS = ("position_seconds", "duration_seconds", "rating")
MICROS_PER_SECOND = 1_000_000
MICROS_PER_HOUR, MICROS_PER_DAY = 3_600 * MICROS_PER_SECOND, 86_400 * MICROS_PER_SECOND


def fact_records(records: DataFrame, rules: Rules) -> DataFrame:
    """Of `parse_records`' output, every record as a fact row, its Kafka position and
    `parse_error` kept. Row by row, so a stream builds this plan once, not per micro-batch."""
    return build_facts(records, rules, keep=(*SOURCE_COLUMNS, "parse_error"))


def incoming_facts(fact_records_df: DataFrame) -> DataFrame:
    """Of `fact_records`' output, the facts of the records that parsed, each with its Kafka
    position: every copy of an event, as the merge keeps the first (received first, then the
    lowest position; jobs/spark/batch_store.py). Row by row, so the batch is not shuffled."""
    parsed = fact_records_df.filter(F.col("parse_error").isNull())
    positions = [F.col(name).alias(f"kafka_{name}") for name in SOURCE_COLUMNS]
    return parsed.select(*FACT_COLUMNS, *positions)


def build_facts(events_df: DataFrame, rules: Rules, keep: tuple[str, ...] = ()) -> DataFrame:
    facts = events_df.select(
        F.col("event_id").cast("string").alias("event_id"),
        normalised_type(F.col("event_type"), rules).alias("event_type"),
        "user_id",
        F.col("session_id").alias("client_session_id"),
        F.col("movie_id").cast("long").alias("movie_id"),
        "occurred_at",
        "received_at",
        *field_columns(rules),
        *keep,
    )
    occurred = F.col("occurred_at")
    facts = facts.withColumns(
        {
            "event_date": utc_date(occurred),
            "event_hour": utc_hour(occurred),
            **watch_columns(rules),
            "rating_bucket": rating_bucket(F.col("rating"), rules),
            "reading": comment_reading(F.col("comment_text"), rules.sentiment),
            "invalid_reason": invalid_reason(rules),
            "rules_version": F.lit(rules.version),
        }
    )
    facts = facts.withColumns(
        {
            "emotion": F.col("reading.label"),
            "emotion_score": F.col("reading.score"),
            "primary_emotion": F.col("reading.primary_emotion"),
            "is_valid": F.col("invalid_reason").isNull(),
        }
    )
    return facts.select(*FACT_COLUMNS, *keep)


def normalised_type(event_type: Column, rules: Rules) -> Column:
    # str.strip() strips Unicode whitespace; Spark's trim() only strips spaces.
    # \z, not $: Java's $ would also match before a final line break.
    edges = f"^[{PYTHON_WHITESPACE}]+|[{PYTHON_WHITESPACE}]+\\z"
    cleaned = F.lower(F.regexp_replace(event_type, F.lit(edges), F.lit("")))
    if not rules.aliases:
        return cleaned
    return first_match(
        [(cleaned == alias, target) for alias, target in rules.aliases.items()], cleaned
    )


def field_columns(rules: Rules) -> list[Column]:
    columns = []
    for column, (parent, key) in rules.fields.items():
        kind = "double" if column in NUMERIC_FIELDS else "string"
        columns.append(F.col(parent).getField(key).cast(kind).alias(column))
    return columns


def utc_date(timestamp: Column) -> Column:
    """The UTC calendar date, whatever the session time zone."""
    return F.date_from_unix_date(floor_div(F.unix_micros(timestamp), MICROS_PER_DAY).cast("int"))


def utc_hour(timestamp: Column) -> Column:
    return F.pmod(floor_div(F.unix_micros(timestamp), MICROS_PER_HOUR), F.lit(24)).cast("int")


def watch_columns(rules: Rules) -> dict[str, Column]:
    is_watch, action = is_true(F.col("event_type") == "watch"), F.col("watch_action")
    position, duration = F.col("position_seconds"), F.col("duration_seconds")
    has_duration = is_true(duration > 0)
    ratio = clamp(F.when(has_duration, position / duration), F.lit(0.0), F.lit(1.0))
    # greatest/least skip nulls, so clamp with CASE to keep a missing position missing.
    non_negative = F.when(position < 0, F.lit(0.0)).otherwise(position)
    watched = F.when(has_duration & (non_negative > duration), duration).otherwise(non_negative)
    watched_so_far = F.when(is_true(action == "start"), F.lit(0.0)).otherwise(watched)
    completed = is_true(action == "complete") | is_true(ratio >= rules.completion_threshold)
    return {
        "completion_ratio": F.when(is_watch, ratio),
        "is_completed": is_watch & completed,
        "watch_seconds": F.when(is_watch, watched_so_far),
    }


def clamp(value: Column, low: Column, high: Column) -> Column:
    return F.when(value < low, low).when(value > high, high).otherwise(value)


def rating_bucket(rating: Column, rules: Rules) -> Column:
    last = rules.rating_buckets[-1]
    cases = [((rating >= b.min) & (rating < b.max), b.name) for b in rules.rating_buckets]
    return first_match([*cases, (rating == last.max, last.name)])  # the last bucket's max


def invalid_reason(rules: Rules) -> Column:
    """The first failing check in the order rules.py defines; CASE stops at the first."""
    event_type, occurred, received = F.col("event_type"), F.col("occurred_at"), F.col("received_at")
    occurred_us, received_us = F.unix_micros(occurred), F.unix_micros(received)
    skew_us = rules.max_future_skew_seconds * MICROS_PER_SECOND
    max_age_us = rules.max_age_days * MICROS_PER_DAY
    rating, position = F.col("rating"), F.col("position_seconds")
    longest = F.col("duration_seconds") + rules.position_tolerance_seconds
    checks = [
        ("synthetic", F.col("user_id").isin(*rules.synthetic_users)),
        ("unknown_event_type", ~is_true(event_type.isin(*rules.canonical_types))),
        ("missing_movie", event_type.isin(*rules.require_movie_for) & F.col("movie_id").isNull()),
        ("future_timestamp", occurred_us > received_us + skew_us),
        ("stale_timestamp", occurred_us < received_us - max_age_us),
        ("rating_out_of_range", (rating < rules.rating_min) | (rating > rules.rating_max)),
        ("position_beyond_duration", position > longest),
    ]
    return first_match([(failed, name) for name, failed in checks])  # null: passed, as in pandas


def build_sessions(facts_df: DataFrame, rules: Rules) -> DataFrame:
    sessions = with_session_ids(facts_df.filter(F.col("is_valid")), rules)
    watch_ms = F.when(F.col("event_type") == "watch", F.floor(F.col("watch_seconds") * 1000))
    per_movie = sessions.groupBy("session_id", "user_id", "movie_id").agg(
        F.min("occurred_at").alias("first_at"),
        F.max("occurred_at").alias("last_at"),
        F.count(F.lit(1)).alias("events"),
        *[count_of(kind).alias(f"{kind}s") for kind in ("watch", "click", "comment")],
        (F.max(watch_ms) - F.min(watch_ms)).alias("watched_ms"),
    )
    # A movie counts when it has a watch event with watch seconds, as in pandas' groupby.
    counted = F.col("movie_id").isNotNull() & F.col("watched_ms").isNotNull()
    totals = per_movie.groupBy("session_id", "user_id").agg(
        F.min("first_at").alias("session_start"),
        F.max("last_at").alias("session_end"),
        F.sum("events").cast("int").alias("event_count"),
        *[
            F.sum(f"{kind}s").cast("int").alias(f"{kind}_count")
            for kind in ("watch", "click", "comment")
        ],
        F.count(F.when(counted, 1)).cast("int").alias("movies_watched"),
        F.coalesce(F.sum(F.when(counted, F.col("watched_ms"))), F.lit(0)).alias("watched_ms"),
    )
    return totals.withColumns(
        {
            "duration_seconds": (F.unix_micros("session_end") - F.unix_micros("session_start"))
            / float(MICROS_PER_SECOND),
            "watch_seconds": F.col("watched_ms") / 1000.0,  # whole milliseconds: an exact sum
            "rules_version": F.lit(rules.version),
        }
    ).select(*SESSION_COLUMNS)


def count_of(event_type: str) -> Column:
    return F.count(F.when(F.col("event_type") == event_type, 1))


def with_session_ids(valid: DataFrame, rules: Rules) -> DataFrame:
    """session_id on each event: runs split by gaps, then cut every max_session_seconds."""
    by_user = Window.partitionBy("user_id").orderBy("occurred_at", "event_id")
    micros = F.unix_micros("occurred_at")
    gap_us = rules.inactivity_gap_seconds * MICROS_PER_SECOND
    previous_us = F.lag(micros).over(by_user)
    starts_run = (previous_us.isNull() | (micros - previous_us > gap_us)).cast("int")
    runs = valid.withColumn(
        "run", F.sum(starts_run).over(by_user.rowsBetween(Window.unboundedPreceding, 0))
    )
    run_start_us = F.min(micros).over(Window.partitionBy("user_id", "run"))
    max_us = rules.max_session_seconds * MICROS_PER_SECOND
    pieces = runs.withColumn("piece", floor_div(micros - run_start_us, max_us))
    session_start = F.min("occurred_at").over(Window.partitionBy("user_id", "run", "piece"))
    session_id = F.concat(F.col("user_id"), F.lit(":"), F.unix_millis(session_start).cast("string"))
    return pieces.withColumn("session_id", session_id).drop("run", "piece")
