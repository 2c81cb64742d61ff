"""Staging, and the audit's ledgers of the acknowledged and backed-up events, partitioned by
receive day, so their retention drops whole days.

A partitioned table's keys must hold its partition key: the key becomes (event_id, received_at).
The same copy of an event (a redelivery, a replay) keeps its receive time and still meets the
key; a client's retry, received anew, is caught by the writers' look-back for earlier copies.

The rows already there stay where they are, as the partition of everything received until the
day after the upgrade (see app.db.partition_ddl). The audit's counting triggers move to the new
parent, without counting anything again.

Revision ID: 0014
Revises: 0013
"""

from app.db.partition_ddl import Layout, partitioned, unpartitioned
from app.db.sql_script import execute_script

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

LAYOUTS = (
    Layout(
        "stg_user_logs", "event_id", "received_at", "day",
        "Every frontend event (watch, click, comment) as received, one row per event_id; "
        "partitioned by receive day (UTC).",
        "Every frontend event (watch, click, comment) as received, one row per event_id.",
        {
            "ix_stg_user_logs_received_at": "(received_at)",
            "ix_stg_user_logs_user_occurred": "(user_id, occurred_at)",
        },
    ),
    Layout(
        "stg_comments", "event_id", "received_at", "day",
        "Comment events with their text and optional rating; partitioned by receive day (UTC).",
        "Comment events with their text and optional rating.",
        {
            "ix_stg_comments_movie_occurred": "(movie_id, occurred_at)",
            "ix_stg_comments_user": "(user_id)",
        },
    ),
    Layout(
        "audit.acknowledged", "event_id", "received_at", "day",
        "Every event ingest answered 202 for, from its receipts in Kafka; partitioned by "
        "receive day (UTC).",
        "Every event ingest answered 202 for, from its receipts in Kafka.",
        {"ix_acknowledged_received": "(received_at)"},
    ),
    Layout(
        "audit.backed_up", "event_id", "received_at", "day",
        "Every event the MongoDB backup consumer wrote (or found written), recorded before its "
        "offsets were committed; partitioned by receive day (UTC).",
        "Every event the MongoDB backup consumer wrote (or found written), recorded before its "
        "offsets were committed.",
        {"ix_backed_up_received": "(received_at)"},
    ),
)  # fmt: skip
TRIGGERS = """
    CREATE TRIGGER count_stg_user_logs_inserted AFTER INSERT ON stg_user_logs
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit.count_stg_user_logs();
    CREATE TRIGGER count_stg_user_logs_deleted AFTER DELETE ON stg_user_logs
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION audit.count_stg_user_logs();
    CREATE TRIGGER count_stg_user_logs_updated AFTER UPDATE ON stg_user_logs
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION audit.count_stg_user_logs();
    CREATE TRIGGER count_stg_user_logs_truncated AFTER TRUNCATE ON stg_user_logs
        FOR EACH STATEMENT EXECUTE FUNCTION audit.forget_stages('staged');
"""
DROP_TRIGGERS = "\n".join(
    f"DROP TRIGGER count_stg_user_logs_{event} ON {{table}};"
    for event in ("inserted", "deleted", "updated", "truncated")
)


def upgrade() -> None:
    tables = "\n".join(partitioned(layout) for layout in LAYOUTS)
    execute_script(f"""
        {DROP_TRIGGERS.format(table="stg_user_logs")}
        {tables}
        {TRIGGERS}
    """)


def downgrade() -> None:
    tables = "\n".join(unpartitioned(layout) for layout in LAYOUTS)
    execute_script(f"""
        {DROP_TRIGGERS.format(table="stg_user_logs")}
        {tables}
        {TRIGGERS}
    """)
