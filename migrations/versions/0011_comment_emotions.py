"""Comments read as people do: a continuous emotion score and a primary emotion, counted.

`emotion_score` becomes a double (the polarity in [-1, 1], jobs/sentiment.py) and
`primary_emotion` is new, in the facts, their fallback twins and Spark's incoming table. The
rollups sum the score as a double and count each primary emotion; their trigger and rebuild
functions are redefined with these measures, and the analysts' views show them. Facts built
before keep their old whole-number score and no primary emotion until the model is re-run over
them (README, "Changing the rules").

Revision ID: 0011
Revises: 0010
"""

import importlib.util
from pathlib import Path

from app.db.sql_script import execute_script

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

FACT_TABLES = ("fact_user_event", "fact_user_event_fallback", "spark_incoming_facts")
EMOTIONS = ("joy", "sadness", "fear", "anger", "surprise", "disgust")  # the emotion lexicon's


def rollups_0004():
    """The rollup generators of migration 0004, which this one reuses with its own measures."""
    path = Path(__file__).with_name("0004_rollups_and_analytics.py")
    spec = importlib.util.spec_from_file_location("rollups_0004", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measures_and_rollups(base):
    measures = dict(base.MEASURES)
    measures["emotion_score_sum"] = (
        "double precision",
        "coalesce(sum(emotion_score), 0)",
        "Sum of the comments' emotion scores (each from -1 to 1).",
    )
    for emotion in EMOTIONS:
        measures[emotion] = (
            "bigint",
            f"count(*) FILTER (WHERE primary_emotion = '{emotion}')",
            f"Comments whose primary emotion is {emotion}.",
        )
    rollups = {
        table: (keys, where, (*kept, *EMOTIONS) if "comments" in kept else kept)
        for table, (keys, where, kept) in base.ROLLUPS.items()
    }
    return measures, rollups


def counted_tables(rollups) -> list[str]:
    return [table for table, (_keys, _where, kept) in rollups.items() if "joy" in kept]


EMOTION_COLUMNS = ", ".join(f"r.{emotion}" for emotion in EMOTIONS)
EMOTION_COMMENTS = "\n".join(
    f"COMMENT ON COLUMN analytics.{{view}}.{emotion} IS 'Comments whose primary emotion is {emotion}.';"
    for emotion in EMOTIONS
)
VIEWS = f"""
    CREATE VIEW analytics.emotions_per_day AS
    SELECT r.day, r.comments, r.positive, r.negative, r.neutral,
           CASE WHEN r.emotion_score_count > 0 THEN r.emotion_score_sum / r.emotion_score_count END AS mean_emotion_score,
           CASE WHEN r.rating_count > 0 THEN r.rating_sum / r.rating_count END AS mean_rating,
           {EMOTION_COLUMNS}
    FROM rollup_day r;
    COMMENT ON VIEW analytics.emotions_per_day IS 'How comments felt, per UTC day, over all movies.';
    COMMENT ON COLUMN analytics.emotions_per_day.day IS 'UTC day.';
    COMMENT ON COLUMN analytics.emotions_per_day.comments IS 'Comments written.';
    COMMENT ON COLUMN analytics.emotions_per_day.positive IS 'Comments read as positive.';
    COMMENT ON COLUMN analytics.emotions_per_day.negative IS 'Comments read as negative.';
    COMMENT ON COLUMN analytics.emotions_per_day.neutral IS 'Comments read as neutral.';
    COMMENT ON COLUMN analytics.emotions_per_day.mean_emotion_score IS 'Mean emotion score, from -1 (negative) to 1 (positive).';
    COMMENT ON COLUMN analytics.emotions_per_day.mean_rating IS 'Mean rating (0-10) of comments with a rating.';
    {EMOTION_COMMENTS.format(view="emotions_per_day")}

    CREATE OR REPLACE VIEW analytics.movie_daily_activity AS
    SELECT r.day, r.movie_id, m.title, r.views, r.completions, r.watch_seconds, r.comments,
           r.rating_count,
           CASE WHEN r.rating_count > 0 THEN r.rating_sum / r.rating_count END AS avg_rating,
           r.positive, r.negative, r.neutral, {EMOTION_COLUMNS}
    FROM rollup_movie_day r LEFT JOIN dim_movie m USING (movie_id);
    {EMOTION_COMMENTS.format(view="movie_daily_activity")}

    CREATE OR REPLACE VIEW analytics.session_events AS
    SELECT s.session_id, f.event_id, f.event_type, f.user_id, f.movie_id, f.occurred_at,
           f.watch_action, f.watch_seconds, f.is_completed, f.click_element, f.rating,
           f.emotion, f.emotion_score, f.primary_emotion
    FROM dim_session s
    JOIN fact_user_event f ON f.user_id = s.user_id AND f.is_valid
         AND f.occurred_at BETWEEN s.session_start AND s.session_end;
    COMMENT ON COLUMN analytics.session_events.emotion_score IS 'How the comment reads, from -1 (negative) to 1 (positive).';
    COMMENT ON COLUMN analytics.session_events.primary_emotion IS 'joy, sadness, fear, anger, surprise, disgust or none, for comments.';
"""


def upgrade() -> None:
    base = rollups_0004()
    measures, rollups = measures_and_rollups(base)
    facts = "\n".join(
        f"""ALTER TABLE {table} ALTER COLUMN emotion_score TYPE double precision,
                ADD COLUMN primary_emotion text;
            COMMENT ON COLUMN {table}.emotion_score IS 'How the comment reads, from -1 (negative) to 1 (positive): the rules'' lexicon score, normalised.';
            COMMENT ON COLUMN {table}.primary_emotion IS 'joy, sadness, fear, anger, surprise, disgust or none, from the comment text by the emotion lexicon.';"""
        for table in FACT_TABLES
    )
    counts = "\n".join(
        f"ALTER TABLE {table} ALTER COLUMN emotion_score_sum TYPE double precision, "
        + ", ".join(f"ADD COLUMN {e} bigint NOT NULL DEFAULT 0" for e in EMOTIONS)
        + ";\n"
        + "\n".join(f"COMMENT ON COLUMN {table}.{e} IS '{measures[e][2]}';" for e in EMOTIONS)
        for table in counted_tables(rollups)
    )
    execute_script(f"""
        DROP VIEW analytics.emotions_per_day;
        {facts}
        {counts}
    """)
    execute_script(base.rollup_functions(rollups, measures))
    execute_script(VIEWS)


def downgrade() -> None:
    base = rollups_0004()
    _measures, rollups = measures_and_rollups(base)
    views = "\n".join(
        f"DROP VIEW analytics.{view};"
        for view in ("session_events", "movie_daily_activity", "emotions_per_day")
    )
    execute_script(views)
    execute_script(base.rollup_functions())
    counts = "\n".join(
        f"ALTER TABLE {table} ALTER COLUMN emotion_score_sum TYPE bigint USING round(emotion_score_sum), "
        + ", ".join(f"DROP COLUMN {e}" for e in EMOTIONS)
        + ";"
        for table in counted_tables(rollups)
    )
    facts = "\n".join(
        f"ALTER TABLE {table} DROP COLUMN primary_emotion, "
        "ALTER COLUMN emotion_score TYPE integer USING round(emotion_score);"
        for table in FACT_TABLES
    )
    execute_script(counts + "\n" + facts)
    for view in ("emotions_per_day", "movie_daily_activity", "session_events"):
        execute_script(base.view_script(view))
