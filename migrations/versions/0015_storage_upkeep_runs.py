"""A record of each storage upkeep run: the partitions it added ahead and those it dropped.

Revision ID: 0015
Revises: 0014
"""

from app.db.sql_script import execute_script

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
        CREATE TABLE storage_upkeep_runs (
            run_id         bigserial PRIMARY KEY,
            ran_at         timestamptz NOT NULL DEFAULT now(),
            kept_since     timestamptz NOT NULL,
            added          text[] NOT NULL,
            dropped        text[] NOT NULL,
            rows_dropped   bigint NOT NULL,
            oldest_kept    timestamptz,
            covered_until  timestamptz
        );
        CREATE INDEX ix_storage_upkeep_runs_ran_at ON storage_upkeep_runs (ran_at);
        COMMENT ON TABLE storage_upkeep_runs IS 'Every storage upkeep run: partitions added ahead, and those dropped past their retention.';
        COMMENT ON COLUMN storage_upkeep_runs.kept_since IS 'The retention''s cutoff: partitions wholly received before it were dropped.';
        COMMENT ON COLUMN storage_upkeep_runs.rows_dropped IS 'Rows the dropped partitions held, by the planner''s statistics (no scan).';
        COMMENT ON COLUMN storage_upkeep_runs.oldest_kept IS 'Where the oldest staging partition left begins (null: the partition of all rows from before partitioning).';
        COMMENT ON COLUMN storage_upkeep_runs.covered_until IS 'Where the newest staging partition ends: writes received before it need no new partition.';
    """)


def downgrade() -> None:
    execute_script("DROP TABLE storage_upkeep_runs;")
