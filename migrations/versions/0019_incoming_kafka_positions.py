"""A Spark batch's facts arrive with their Kafka positions, every copy of an event included:
the merge keeps the first copy (received first, then the lowest position), which the stream
used to pick itself with a window over the batch: a shuffle of every batch, about 3 s per
million events, which the merge now spends about as much on instead.

Leftover rows are those of a batch that died before committing, which is redone from Kafka:
they go, so the positions can be required.

Revision ID: 0019
Revises: 0018
"""

from app.db.sql_script import execute_script

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
        DELETE FROM spark_incoming_facts;
        ALTER TABLE spark_incoming_facts
            ADD COLUMN kafka_topic text NOT NULL,
            ADD COLUMN kafka_partition integer NOT NULL,
            ADD COLUMN kafka_offset bigint NOT NULL;
    """)


def downgrade() -> None:
    execute_script("""
        ALTER TABLE spark_incoming_facts
            DROP COLUMN kafka_topic, DROP COLUMN kafka_partition, DROP COLUMN kafka_offset;
    """)
