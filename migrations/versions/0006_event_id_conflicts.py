"""Events that reuse an event_id already staged with other content: kept apart, never merged.

Revision ID: 0006
Revises: 0005
"""

from app.db.sql_script import execute_script

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
        CREATE TABLE event_id_conflicts (
            event_id        uuid NOT NULL,
            content_hash    text NOT NULL,
            event_type      text NOT NULL,
            user_id         text NOT NULL,
            session_id      text,
            movie_id        bigint,
            occurred_at     timestamptz NOT NULL,
            received_at     timestamptz NOT NULL,
            payload         jsonb NOT NULL,
            kafka_topic     text NOT NULL,
            kafka_partition integer NOT NULL,
            kafka_offset    bigint NOT NULL,
            detected_at     timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (event_id, content_hash)
        );
        COMMENT ON TABLE event_id_conflicts IS 'Events sent with an event_id already staged with other content: the first copy staged stays the event everywhere; these are kept apart.';
        COMMENT ON COLUMN event_id_conflicts.content_hash IS 'md5 of the refused copy''s content, so a redelivered batch records it once.';
    """)


def downgrade() -> None:
    execute_script("DROP TABLE event_id_conflicts;")
