"""Kafka records as stored events, in Spark: the explicit schema, and why a record is not one.
No I/O; jobs/spark/transforms.py applies the rules to them, and the merge keeps the first copy
of each event (jobs/spark/batch_store.py)."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.spark.columns import first_match
from jobs.stored_event import (
    CONTEXT_FIELDS,
    EVENT_FIELDS,
    REQUIRED_EVENT_FIELDS,
    StoredField,
    payload_union,
)

SPARK_TYPES: dict[str, T.DataType] = {
    "uuid": T.StringType(), "text": T.StringType(), "bigint": T.LongType(),
    "integer": T.IntegerType(), "double": T.DoubleType(), "timestamp": T.TimestampType(),
}  # fmt: skip


def struct_of(fields: tuple[StoredField, ...]) -> T.StructType:
    return T.StructType([T.StructField(field.name, spark_type(field)) for field in fields])


def spark_type(field: StoredField) -> T.DataType:
    if field.name == "context":
        return struct_of(CONTEXT_FIELDS)
    if field.name == "payload":  # every type's fields; those of other types stay null
        return struct_of(payload_union())
    return SPARK_TYPES[field.kind]


EVENT_SCHEMA = struct_of(EVENT_FIELDS)
CORRUPT_RECORD = "_corrupt_record"
JSON_OPTIONS = {
    # What datetime.isoformat() writes: optional fraction, offset +HH:MM (or +HH:MM:SS, Z).
    "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]XXXXX",
    "mode": "PERMISSIVE",  # a bad record yields a row flagged in CORRUPT_RECORD, never a failure
    "columnNameOfCorruptRecord": CORRUPT_RECORD,
    "allowNonNumericNumbers": "false",  # NaN is not JSON; the Python consumers refuse it too
}
UUID_TEXT = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
SOURCE_COLUMNS = ("topic", "partition", "offset")
EVENT_COLUMNS = tuple(field.name for field in EVENT_SCHEMA.fields) + SOURCE_COLUMNS


def parse_records(kafka_df: DataFrame) -> DataFrame:
    """Every Kafka record as a stored event, with `parse_error` null or saying why it is not."""
    parse_schema = T.StructType(
        [*EVENT_SCHEMA.fields, T.StructField(CORRUPT_RECORD, T.StringType())]
    )
    parsed = kafka_df.select(
        F.from_json(F.col("value").cast("string"), parse_schema, JSON_OPTIONS).alias("event"),
        *SOURCE_COLUMNS,
    )
    columns = [event_field(name) for name in EVENT_SCHEMA.fieldNames()]
    return parsed.select(*columns, *SOURCE_COLUMNS, parse_error().alias("parse_error"))


def event_field(name: str) -> Column:
    column = F.col(f"event.{name}")
    if name == "event_id":  # lower-case, as the staging table's uuid column prints it
        column = F.lower(column)
    return column.alias(name)


def parse_error() -> Column:
    return first_match(
        [
            (F.col("event").isNull(), "empty"),
            (
                F.col(f"event.{CORRUPT_RECORD}").isNotNull(),
                "not JSON, or a field of the wrong type or format",
            ),
            *[(F.col(f"event.{name}").isNull(), f"no {name}") for name in REQUIRED_EVENT_FIELDS],
            (~F.lower("event.event_id").rlike(UUID_TEXT), "event_id is not a UUID"),
        ]
    )


def parse_events(kafka_df: DataFrame) -> DataFrame:
    """The records that are stored events; `parse_records` shows (and counts) the others."""
    return stored_events(parse_records(kafka_df))


def stored_events(records: DataFrame) -> DataFrame:
    """Of `parse_records`' output, the records that parsed, as stored-event columns."""
    return records.filter(F.col("parse_error").isNull()).select(*EVENT_COLUMNS)
