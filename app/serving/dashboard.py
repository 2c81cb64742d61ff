"""The analysts' Metabase dashboard: native-SQL cards over the `analytics` views only, the
same SQL an analyst could run as the read-only role."""

from __future__ import annotations

from app.serving.metabase import CardSpec, DashboardSpec

DASHBOARD = DashboardSpec(
    collection="Movie pipeline",
    dashboard="Movie pipeline overview",
    cards=(
        CardSpec(
            "Top movies this week",
            """SELECT title, sum(views) AS views, sum(watch_seconds) AS watch_seconds,
       sum(comments) AS comments
FROM analytics.movie_daily_activity
WHERE day > current_date - 7
GROUP BY movie_id, title ORDER BY views DESC LIMIT 10""",
            "table",
        ),
        CardSpec(
            "Watch time per day",
            """SELECT day, sum(watch_seconds) / 3600 AS watch_hours
FROM analytics.movie_daily_activity
WHERE day > current_date - 30 GROUP BY day ORDER BY day""",
            "line",
        ),
        CardSpec(
            "Emotion trends",
            """SELECT day, positive, negative, neutral
FROM analytics.emotions_per_day
WHERE day > current_date - 30 ORDER BY day""",
            "bar",
        ),
        CardSpec(
            "What comments felt, last 30 days",
            """SELECT felt.emotion, sum(felt.comments) AS comments
FROM analytics.emotions_per_day e,
     LATERAL (VALUES ('joy', e.joy), ('sadness', e.sadness), ('fear', e.fear),
                     ('anger', e.anger), ('surprise', e.surprise), ('disgust', e.disgust))
         AS felt (emotion, comments)
WHERE day > current_date - 30
GROUP BY felt.emotion ORDER BY comments DESC""",
            "bar",
        ),
        CardSpec(
            "Active users per day",
            """SELECT day, active_users FROM analytics.daily_active_users
WHERE day > current_date - 30 ORDER BY day""",
            "line",
        ),
        CardSpec(
            "Audit: acknowledged events modelled, per hour",
            """SELECT date_trunc('hour', window_start) AS hour, sum(acknowledged) AS acknowledged,
       sum(accounted) AS modelled,
       round(100 * sum(accounted) / nullif(sum(acknowledged), 0), 4) AS percent,
       sum(open_findings) AS open_findings
FROM analytics.audit_completeness
WHERE window_start > now() - interval '2 days'
GROUP BY 1 ORDER BY 1 DESC""",
            "table",
        ),
        CardSpec(
            "Rows awaiting promotion",
            "SELECT count(*) AS awaiting_promotion FROM analytics.fallback_awaiting_promotion",
            "scalar",
        ),
    ),
)
