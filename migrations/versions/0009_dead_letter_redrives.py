"""Which dead letters were sent back to their topic, so a redrive never sends one twice.

Revision ID: 0009
Revises: 0008
"""

from app.db.sql_script import execute_script

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
        CREATE TABLE dead_letter_redrives (
            dead_letter_partition integer NOT NULL,
            dead_letter_offset    bigint NOT NULL,
            dead_letter_time      timestamptz NOT NULL,
            origin_topic          text NOT NULL,
            consumer_group        text NOT NULL,
            reason                text NOT NULL,
            redriven_by           text NOT NULL,
            redriven_at           timestamptz NOT NULL DEFAULT now(),
            -- With its time: a topic created again counts its offsets from 0.
            PRIMARY KEY (dead_letter_partition, dead_letter_offset, dead_letter_time)
        );
        COMMENT ON TABLE dead_letter_redrives IS 'Dead letters sent back to their topic by python -m app.jobs dead-letters redrive, and by whom. A record refused again is a new dead letter, redriven only by a later run.';
    """)


def downgrade() -> None:
    execute_script("DROP TABLE dead_letter_redrives;")
