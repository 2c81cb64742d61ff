"""Offsets a consumer group had not read when Kafka's retention removed them: the group starts
again at the log's start, and the gap is recorded instead of skipped in silence.

Revision ID: 0008
Revises: 0007
"""

from app.db.sql_script import execute_script

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
        CREATE TABLE consumer_offset_gaps (
            group_id        text NOT NULL,
            topic           text NOT NULL,
            kafka_partition integer NOT NULL,
            missing_from    bigint NOT NULL,
            missing_until   bigint NOT NULL,
            detected_at     timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (group_id, topic, kafka_partition, missing_from)
        );
        COMMENT ON TABLE consumer_offset_gaps IS 'Offsets [missing_from, missing_until) of a topic that a consumer group had not committed when Kafka no longer held them (retention): those events are not in that group''s store from Kafka; replay them from raw.user_logs, or from the other store.';
    """)


def downgrade() -> None:
    execute_script("DROP TABLE consumer_offset_gaps;")
