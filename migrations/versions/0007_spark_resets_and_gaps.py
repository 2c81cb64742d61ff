"""What the Spark stream could otherwise skip in silence: a checkpoint started afresh at a path
whose batches PostgreSQL remembers, and Kafka offsets lost to retention before Spark read them.

Revision ID: 0007
Revises: 0006
"""

from app.db.sql_script import execute_script

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
        CREATE TABLE spark_checkpoint_resets (
            reset_id          bigserial PRIMARY KEY,
            stream            text NOT NULL,
            batches_forgotten integer NOT NULL,
            detected_at       timestamptz NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE spark_checkpoint_resets IS 'A stream found its checkpoint empty while PostgreSQL held its batches: their records were forgotten so no new batch is taken for an old one.';

        CREATE TABLE spark_offset_gaps (
            gap_id          bigserial PRIMARY KEY,
            stream          text NOT NULL,
            topic           text NOT NULL,
            kafka_partition integer NOT NULL,
            missing_from    bigint NOT NULL,
            missing_until   bigint NOT NULL,
            detected_at     timestamptz NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE spark_offset_gaps IS 'Offsets [missing_from, missing_until) that Kafka no longer held when Spark got there (retention): those events never reached the model from Kafka; replay them from raw.user_logs.';
    """)


def downgrade() -> None:
    execute_script("""
        DROP TABLE spark_offset_gaps;
        DROP TABLE spark_checkpoint_resets;
    """)
