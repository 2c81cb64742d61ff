"""From where a user's sessions are rebuilt when new facts arrive: the same rule for the Spark
stream and the pandas fallback.

Per user, the bound is the start of the activity run holding its first session that the new
facts can touch (one ending within the inactivity gap of the earliest new fact), or that
earliest new fact itself. Sessions before the bound are more than the gap away from everything
new, and a run start keeps the max-length cuts where they were, so rebuilding from there gives
what rebuilding the whole history would.
"""

from __future__ import annotations


def session_bounds_query(sessions_table: str, earliest_new: str) -> str:
    """Rows of (user_id, lower_bound). `earliest_new` is a query of (user_id, earliest_new),
    one row per user; `$3` is the inactivity gap in seconds. One pass over the users' sessions:
    a run start per session is a running max, not a subquery per user."""
    return f"""
        WITH new AS ({earliest_new}), sessions AS (
            SELECT s.user_id, s.session_start, s.session_end,
                coalesce(s.session_start - lag(s.session_end) OVER w
                         > $3 * interval '1 second', true) AS starts_run
            FROM {sessions_table} s JOIN new USING (user_id)
            WINDOW w AS (PARTITION BY s.user_id ORDER BY s.session_start)
        ), runs AS (
            SELECT user_id, session_end, max(session_start) FILTER (WHERE starts_run)
                OVER (PARTITION BY user_id ORDER BY session_start) AS run_start
            FROM sessions
        )
        SELECT n.user_id, least(n.earliest_new, min(r.run_start)) AS lower_bound
        FROM new n LEFT JOIN runs r ON r.user_id = n.user_id
            AND r.session_end >= n.earliest_new - $3 * interval '1 second'
        GROUP BY n.user_id, n.earliest_new
    """
