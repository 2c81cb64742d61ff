"""Runs a stopping process interrupted are recorded as such, not left `running`.

Revision ID: 0005
Revises: 0004
"""

from app.db.sql_script import execute_script

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("tmdb_sync_runs", "fallback_runs")


def statuses(table: str, allowed: str) -> str:
    return f"""
        ALTER TABLE {table} DROP CONSTRAINT {table}_status_check;
        ALTER TABLE {table} ADD CONSTRAINT {table}_status_check CHECK (status IN ({allowed}));
    """


def upgrade() -> None:
    for table in TABLES:
        execute_script(statuses(table, "'running', 'succeeded', 'failed', 'interrupted'"))


def downgrade() -> None:
    for table in TABLES:
        execute_script(f"UPDATE {table} SET status = 'failed' WHERE status = 'interrupted';")
        execute_script(statuses(table, "'running', 'succeeded', 'failed'"))
