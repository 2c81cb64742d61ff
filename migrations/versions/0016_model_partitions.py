"""The model's tables partitioned by month: facts by receive time, sessions by their start.

As in staging, a fact's key becomes (event_id, received_at) and its writers look back over the
resend window for a copy received earlier; a session's (session_id, session_start), which its
id already implies. The partition of all that came before stays even when empty, so that a
replay of old events always has a place. Facts are kept: partitions here bound each index's
size and let an operator drop or archive a month whole. Triggers (the audit's counts, the
rollups) move to the new parents without counting anything again.

Revision ID: 0016
Revises: 0015
"""

from app.db.partition_ddl import Layout, partitioned, unpartitioned
from app.db.sql_script import execute_script

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

LAYOUTS = (
    Layout(
        "fact_user_event", "event_id", "received_at", "month",
        "One row per frontend event, cleaned and enriched by transform_rules.json; "
        "partitioned by receive month (UTC).",
        "One row per frontend event, cleaned and enriched by transform_rules.json.",
        {
            "ix_fact_user_event_occurred": "(occurred_at)",
            "ix_fact_user_event_user_occurred": "(user_id, occurred_at)",
            "ix_fact_user_event_movie_date": "(movie_id, event_date)",
            "ix_fact_user_event_received": "(received_at)",
        },
        keep_before=True,
    ),
    Layout(
        "fact_user_event_fallback", "event_id", "received_at", "month",
        "Facts the pandas fallback built while Spark lagged; an admin promotes them. "
        "Partitioned by receive month (UTC).",
        "Facts the pandas fallback built while Spark lagged; an admin promotes them.",
        {
            "ix_fact_user_event_fallback_received": "(received_at)",
            "ix_fact_user_event_fallback_user": "(user_id, occurred_at)",
        },
        keep_before=True,
    ),
    Layout(
        "dim_session", "session_id", "session_start", "month",
        "Viewing sessions per user, split by inactivity and maximum length "
        "(transform_rules.json); partitioned by the month they start (UTC).",
        "Viewing sessions per user, split by inactivity and maximum length "
        "(transform_rules.json).",
        {"ix_dim_session_user_start": "(user_id, session_start)"},
        keep_before=True,
    ),
    Layout(
        "dim_session_fallback", "session_id", "session_start", "month",
        "Sessions the pandas fallback derived from its own facts; partitioned by the month "
        "they start (UTC).",
        "Sessions the pandas fallback derived from its own facts.",
        {"ix_dim_session_fallback_user": "(user_id, session_start)"},
        keep_before=True,
    ),
)  # fmt: skip


def upgrade() -> None:
    execute_script("\n".join(partitioned(layout) for layout in LAYOUTS))


def downgrade() -> None:
    execute_script("\n".join(unpartitioned(layout) for layout in LAYOUTS))
