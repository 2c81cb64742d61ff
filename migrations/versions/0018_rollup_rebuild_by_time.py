"""A day's rollups are rebuilt from its facts read through the index on their time, not by a
walk of every fact: an erasure rebuilds the days of the user it removes, and with 5M facts the
walk took 6.7 s a day. `event_date` is the UTC date of `occurred_at`, so the rows are the same.

Revision ID: 0018
Revises: 0017
"""

from app.db.sql_script import execute_script

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BY_DATE = "WHERE event_date BETWEEN first_day AND last_day"
BY_TIME = (
    "WHERE occurred_at >= first_day::timestamp AT TIME ZONE 'UTC' "
    "AND occurred_at < (last_day + 1)::timestamp AT TIME ZONE 'UTC'"
)


def rewritten(old: str, new: str) -> str:
    return f"""
        DO $body$
        BEGIN
            EXECUTE replace(pg_get_functiondef('rebuild_rollups(date, date)'::regprocedure), $old${old}$old$, $new${new}$new$);
        END
        $body$;
    """


def upgrade() -> None:
    execute_script(rewritten(BY_DATE, BY_TIME))


def downgrade() -> None:
    execute_script(rewritten(BY_TIME, BY_DATE))
