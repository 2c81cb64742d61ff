"""Serving: rollups kept by the facts' own inserts, and the analysts' `analytics` schema.

A statement trigger on fact_user_event adds every newly inserted valid fact to the rollups in
the same transaction, whoever inserts it (the Spark merge, promote, a bulk load). A fact that
was already there is not inserted again, so it is never counted twice. `rebuild_rollups`
recomputes a range of days from the facts, with the same aggregates.

Revision ID: 0004
Revises: 0003
"""

from app.db.sql_script import execute_script

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Each measure: its column type, how a set of facts adds up to it, and its comment.
MEASURES = {
    "events": ("bigint", "count(*)", "Valid events."),
    "views": (
        "bigint",
        "count(*) FILTER (WHERE event_type = 'watch' AND watch_action = 'start')",
        "Watch starts.",
    ),
    "completions": ("bigint", "count(*) FILTER (WHERE is_completed)", "Watches completed."),
    "watch_seconds": (
        "double precision",
        "coalesce(sum(watch_seconds), 0)",
        "Seconds watched, summed over watch events.",
    ),
    "comments": ("bigint", "count(*) FILTER (WHERE event_type = 'comment')", "Comments."),
    "rating_sum": (
        "double precision",
        "coalesce(sum(rating) FILTER (WHERE event_type = 'comment'), 0)",
        "Sum of the ratings given with comments.",
    ),
    "rating_count": (
        "bigint",
        "count(rating) FILTER (WHERE event_type = 'comment')",
        "Comments that carried a rating.",
    ),
    "positive": ("bigint", "count(*) FILTER (WHERE emotion = 'positive')", "Positive comments."),
    "negative": ("bigint", "count(*) FILTER (WHERE emotion = 'negative')", "Negative comments."),
    "neutral": ("bigint", "count(*) FILTER (WHERE emotion = 'neutral')", "Neutral comments."),
    "emotion_score_sum": (
        "bigint",
        "coalesce(sum(emotion_score), 0)",
        "Sum of the emotion scores of comments.",
    ),
    "emotion_score_count": ("bigint", "count(emotion_score)", "Comments with an emotion score."),
}
WATCH_MEASURES = ("events", "views", "completions", "watch_seconds")
# Per rollup: its keys (column and the fact expression), which valid facts it counts, and which
# measures it keeps; the user rollup also keeps first and last activity.
ROLLUPS = {
    "rollup_day": ((("day", "date", "event_date"),), "true", tuple(MEASURES)),
    "rollup_movie_day": (
        (("movie_id", "bigint", "movie_id"), ("day", "date", "event_date")),
        "movie_id IS NOT NULL",
        tuple(MEASURES),
    ),
    "rollup_user_day": (
        (("user_id", "text", "user_id"), ("day", "date", "event_date")),
        "true",
        tuple(MEASURES),
    ),
    "rollup_user_movie_day": (
        (
            ("user_id", "text", "user_id"),
            ("movie_id", "bigint", "movie_id"),
            ("day", "date", "event_date"),
        ),
        "event_type = 'watch' AND movie_id IS NOT NULL",
        WATCH_MEASURES,
    ),
}
ROLLUP_COMMENTS = {
    "rollup_day": "Valid facts per UTC day (of occurred_at), kept as facts are first inserted.",
    "rollup_movie_day": "Valid facts per movie and UTC day, kept as facts are first inserted.",
    "rollup_user_day": "Valid facts per user and UTC day, kept as facts are first inserted.",
    "rollup_user_movie_day": "Valid watch events per user, movie and UTC day.",
}
ACTIVITY = {"first_event_at": "min(occurred_at)", "last_event_at": "max(occurred_at)"}


def create_rollup(table: str) -> str:
    keys, _where, measures = ROLLUPS[table]
    columns = [f"{name} {kind} NOT NULL" for name, kind, _ in keys]
    columns += [f"{m} {MEASURES[m][0]} NOT NULL DEFAULT 0" for m in measures]
    if table == "rollup_user_day":
        columns += [f"{name} timestamptz NOT NULL" for name in ACTIVITY]
    key_names = ", ".join(name for name, _, _ in keys)
    comments = [f"COMMENT ON TABLE {table} IS '{ROLLUP_COMMENTS[table]}';"]
    comments += [f"COMMENT ON COLUMN {table}.{m} IS '{MEASURES[m][2]}';" for m in measures]
    return f"CREATE TABLE {table} ({', '.join(columns)}, PRIMARY KEY ({key_names}));\n" + "\n".join(
        comments
    )


def add_to_rollup(
    table: str, source: str, rollups: dict = ROLLUPS, all_measures: dict = MEASURES
) -> str:
    """One upsert adding the valid facts of `source` to the rollup, keys in order (fewer
    deadlocks between concurrent writers). Later migrations pass their own measures."""
    keys, where, measures = rollups[table]
    key_names = [name for name, _, _ in keys]
    selects = [f"{expression} AS {name}" for name, _, expression in keys]
    selects += [f"{all_measures[m][1]} AS {m}" for m in measures]
    updates = [f"{m} = r.{m} + EXCLUDED.{m}" for m in measures]
    names = [*key_names, *measures]
    if table == "rollup_user_day":
        selects += [f"{expression} AS {name}" for name, expression in ACTIVITY.items()]
        names += list(ACTIVITY)
        updates += [
            "first_event_at = least(r.first_event_at, EXCLUDED.first_event_at)",
            "last_event_at = greatest(r.last_event_at, EXCLUDED.last_event_at)",
        ]
    groups = ", ".join(expression for _, _, expression in keys)
    return (
        f"INSERT INTO {table} AS r ({', '.join(names)}) "
        f"SELECT {', '.join(selects)} FROM {source} WHERE is_valid AND {where} "
        f"GROUP BY {groups} ORDER BY {groups} "
        f"ON CONFLICT ({', '.join(key_names)}) DO UPDATE SET {', '.join(updates)};"
    )


def rollup_functions(rollups: dict = ROLLUPS, measures: dict = MEASURES) -> str:
    from_new = "\n        ".join(
        add_to_rollup(table, "new_facts", rollups, measures) for table in rollups
    )
    in_range = "(SELECT * FROM fact_user_event WHERE event_date BETWEEN first_day AND last_day) f"
    from_range = "\n        ".join(
        add_to_rollup(table, in_range, rollups, measures) for table in rollups
    )
    deletes = "\n        ".join(
        f"DELETE FROM {table} WHERE day BETWEEN first_day AND last_day;" for table in rollups
    )
    return f"""
    CREATE OR REPLACE FUNCTION add_new_facts_to_rollups() RETURNS trigger LANGUAGE plpgsql AS $body$
    BEGIN
        {from_new}
        RETURN NULL;
    END
    $body$;
    COMMENT ON FUNCTION add_new_facts_to_rollups() IS 'Adds newly inserted valid facts to every rollup, in the inserting transaction.';

    CREATE OR REPLACE FUNCTION rebuild_rollups(first_day date, last_day date) RETURNS void
    LANGUAGE plpgsql AS $body$
    BEGIN
        -- No fact may be inserted (and counted by the trigger) while its days are rebuilt.
        LOCK TABLE fact_user_event IN SHARE MODE;
        {deletes}
        {from_range}
    END
    $body$;
    COMMENT ON FUNCTION rebuild_rollups(date, date) IS 'Recomputes the rollups of a range of UTC days from fact_user_event.';
    """


ANALYTICS = """
    CREATE SCHEMA analytics;
    COMMENT ON SCHEMA analytics IS 'The analysts'' read-only layer: views over the model, named for reading.';

    CREATE VIEW analytics.movies AS
    SELECT m.movie_id, m.title, m.original_title, m.original_language, m.release_date,
           m.release_year, m.runtime_minutes, m.genres, m.popularity, m.vote_average,
           m.vote_count, m.poster_path, m.is_placeholder, m.is_gone
    FROM dim_movie m;
    COMMENT ON VIEW analytics.movies IS 'The movie catalogue from TMDB, one row per movie, with its genres.';
    COMMENT ON COLUMN analytics.movies.movie_id IS 'TMDB movie id.';
    COMMENT ON COLUMN analytics.movies.title IS 'Title as TMDB gives it (a placeholder title until the catalogue knows the movie).';
    COMMENT ON COLUMN analytics.movies.original_title IS 'Title in the original language.';
    COMMENT ON COLUMN analytics.movies.original_language IS 'ISO 639-1 code of the original language.';
    COMMENT ON COLUMN analytics.movies.release_date IS 'First release date, if known.';
    COMMENT ON COLUMN analytics.movies.release_year IS 'Year of the release date.';
    COMMENT ON COLUMN analytics.movies.runtime_minutes IS 'Running time in minutes.';
    COMMENT ON COLUMN analytics.movies.genres IS 'Genre names, comma-separated.';
    COMMENT ON COLUMN analytics.movies.popularity IS 'TMDB popularity score at the last sync.';
    COMMENT ON COLUMN analytics.movies.vote_average IS 'TMDB average vote (0-10) at the last sync.';
    COMMENT ON COLUMN analytics.movies.vote_count IS 'TMDB vote count at the last sync.';
    COMMENT ON COLUMN analytics.movies.poster_path IS 'TMDB poster path; prefix https://image.tmdb.org/t/p/w500.';
    COMMENT ON COLUMN analytics.movies.is_placeholder IS 'True while the movie is known only from events.';
    COMMENT ON COLUMN analytics.movies.is_gone IS 'True once TMDB no longer has the movie.';

    CREATE VIEW analytics.movie_genres AS
    SELECT mg.movie_id, g.genre_id, g.name AS genre
    FROM movie_genre mg JOIN dim_genre g USING (genre_id);
    COMMENT ON VIEW analytics.movie_genres IS 'Each movie''s genres, one row per movie and genre.';
    COMMENT ON COLUMN analytics.movie_genres.movie_id IS 'TMDB movie id.';
    COMMENT ON COLUMN analytics.movie_genres.genre_id IS 'TMDB genre id.';
    COMMENT ON COLUMN analytics.movie_genres.genre IS 'Genre name.';

    CREATE VIEW analytics.movie_daily_activity AS
    SELECT r.day, r.movie_id, m.title, r.views, r.completions, r.watch_seconds, r.comments,
           r.rating_count,
           CASE WHEN r.rating_count > 0 THEN r.rating_sum / r.rating_count END AS avg_rating,
           r.positive, r.negative, r.neutral
    FROM rollup_movie_day r LEFT JOIN dim_movie m USING (movie_id);
    COMMENT ON VIEW analytics.movie_daily_activity IS 'What users did with each movie per UTC day: valid events only.';
    COMMENT ON COLUMN analytics.movie_daily_activity.day IS 'UTC day the events happened (occurred_at).';
    COMMENT ON COLUMN analytics.movie_daily_activity.movie_id IS 'TMDB movie id.';
    COMMENT ON COLUMN analytics.movie_daily_activity.title IS 'Movie title.';
    COMMENT ON COLUMN analytics.movie_daily_activity.views IS 'Watch starts.';
    COMMENT ON COLUMN analytics.movie_daily_activity.completions IS 'Watches completed (action complete, or the completion threshold reached).';
    COMMENT ON COLUMN analytics.movie_daily_activity.watch_seconds IS 'Seconds watched.';
    COMMENT ON COLUMN analytics.movie_daily_activity.comments IS 'Comments written.';
    COMMENT ON COLUMN analytics.movie_daily_activity.rating_count IS 'Comments that carried a rating.';
    COMMENT ON COLUMN analytics.movie_daily_activity.avg_rating IS 'Mean rating (0-10) of those comments.';
    COMMENT ON COLUMN analytics.movie_daily_activity.positive IS 'Comments read as positive.';
    COMMENT ON COLUMN analytics.movie_daily_activity.negative IS 'Comments read as negative.';
    COMMENT ON COLUMN analytics.movie_daily_activity.neutral IS 'Comments read as neutral.';

    CREATE VIEW analytics.user_daily_activity AS
    SELECT r.day, r.user_id, r.events, r.views, r.completions, r.watch_seconds, r.comments,
           r.first_event_at, r.last_event_at
    FROM rollup_user_day r;
    COMMENT ON VIEW analytics.user_daily_activity IS 'Each user''s activity per UTC day: valid events only.';
    COMMENT ON COLUMN analytics.user_daily_activity.day IS 'UTC day the events happened.';
    COMMENT ON COLUMN analytics.user_daily_activity.user_id IS 'The application''s opaque user id.';
    COMMENT ON COLUMN analytics.user_daily_activity.events IS 'Valid events of any type.';
    COMMENT ON COLUMN analytics.user_daily_activity.views IS 'Watch starts.';
    COMMENT ON COLUMN analytics.user_daily_activity.completions IS 'Watches completed.';
    COMMENT ON COLUMN analytics.user_daily_activity.watch_seconds IS 'Seconds watched.';
    COMMENT ON COLUMN analytics.user_daily_activity.comments IS 'Comments written.';
    COMMENT ON COLUMN analytics.user_daily_activity.first_event_at IS 'The day''s first event.';
    COMMENT ON COLUMN analytics.user_daily_activity.last_event_at IS 'The day''s last event.';

    CREATE VIEW analytics.daily_active_users AS
    SELECT day, count(*) AS active_users, sum(events) AS events
    FROM rollup_user_day GROUP BY day;
    COMMENT ON VIEW analytics.daily_active_users IS 'Users with at least one valid event, per UTC day.';
    COMMENT ON COLUMN analytics.daily_active_users.day IS 'UTC day.';
    COMMENT ON COLUMN analytics.daily_active_users.active_users IS 'Distinct users active that day.';
    COMMENT ON COLUMN analytics.daily_active_users.events IS 'Their valid events.';

    CREATE VIEW analytics.emotions_per_day AS
    SELECT day, comments, positive, negative, neutral,
           CASE WHEN emotion_score_count > 0 THEN emotion_score_sum::double precision / emotion_score_count END AS mean_emotion_score,
           CASE WHEN rating_count > 0 THEN rating_sum / rating_count END AS mean_rating
    FROM rollup_day;
    COMMENT ON VIEW analytics.emotions_per_day IS 'How comments felt, per UTC day, over all movies.';
    COMMENT ON COLUMN analytics.emotions_per_day.day IS 'UTC day.';
    COMMENT ON COLUMN analytics.emotions_per_day.comments IS 'Comments written.';
    COMMENT ON COLUMN analytics.emotions_per_day.positive IS 'Comments read as positive.';
    COMMENT ON COLUMN analytics.emotions_per_day.negative IS 'Comments read as negative.';
    COMMENT ON COLUMN analytics.emotions_per_day.neutral IS 'Comments read as neutral.';
    COMMENT ON COLUMN analytics.emotions_per_day.mean_emotion_score IS 'Mean emotion score (the rules'' lexicon score; above 0 is positive).';
    COMMENT ON COLUMN analytics.emotions_per_day.mean_rating IS 'Mean rating (0-10) of comments with a rating.';

    CREATE VIEW analytics.sessions AS
    SELECT session_id, user_id, session_start, session_end, duration_seconds, event_count,
           watch_count, click_count, comment_count, movies_watched, watch_seconds
    FROM dim_session;
    COMMENT ON VIEW analytics.sessions IS 'User sessions, cut by inactivity as the rules say.';
    COMMENT ON COLUMN analytics.sessions.session_id IS 'user_id and the first event''s time in Unix milliseconds.';
    COMMENT ON COLUMN analytics.sessions.user_id IS 'The application''s opaque user id.';
    COMMENT ON COLUMN analytics.sessions.session_start IS 'First event of the session.';
    COMMENT ON COLUMN analytics.sessions.session_end IS 'Last event of the session.';
    COMMENT ON COLUMN analytics.sessions.duration_seconds IS 'From first to last event, in seconds.';
    COMMENT ON COLUMN analytics.sessions.event_count IS 'Valid events in the session.';
    COMMENT ON COLUMN analytics.sessions.watch_count IS 'Watch events.';
    COMMENT ON COLUMN analytics.sessions.click_count IS 'Click events.';
    COMMENT ON COLUMN analytics.sessions.comment_count IS 'Comment events.';
    COMMENT ON COLUMN analytics.sessions.movies_watched IS 'Distinct movies watched.';
    COMMENT ON COLUMN analytics.sessions.watch_seconds IS 'Seconds watched.';

    CREATE VIEW analytics.session_events AS
    SELECT s.session_id, f.event_id, f.event_type, f.user_id, f.movie_id, f.occurred_at,
           f.watch_action, f.watch_seconds, f.is_completed, f.click_element, f.rating,
           f.emotion
    FROM dim_session s
    JOIN fact_user_event f ON f.user_id = s.user_id AND f.is_valid
         AND f.occurred_at BETWEEN s.session_start AND s.session_end;
    COMMENT ON VIEW analytics.session_events IS 'Every valid event with the session it belongs to.';
    COMMENT ON COLUMN analytics.session_events.session_id IS 'The session (see analytics.sessions).';
    COMMENT ON COLUMN analytics.session_events.event_id IS 'The event''s id.';
    COMMENT ON COLUMN analytics.session_events.event_type IS 'watch, click or comment.';
    COMMENT ON COLUMN analytics.session_events.user_id IS 'The application''s opaque user id.';
    COMMENT ON COLUMN analytics.session_events.movie_id IS 'TMDB movie id, for watch and comment events.';
    COMMENT ON COLUMN analytics.session_events.occurred_at IS 'When it happened, by the client''s clock.';
    COMMENT ON COLUMN analytics.session_events.watch_action IS 'start, progress, pause or complete.';
    COMMENT ON COLUMN analytics.session_events.watch_seconds IS 'Position reached, in seconds (0 for start).';
    COMMENT ON COLUMN analytics.session_events.is_completed IS 'The watch counts as completed.';
    COMMENT ON COLUMN analytics.session_events.click_element IS 'What was clicked.';
    COMMENT ON COLUMN analytics.session_events.rating IS 'Rating given with a comment (0-10).';
    COMMENT ON COLUMN analytics.session_events.emotion IS 'positive, negative or neutral, for comments.';

    CREATE VIEW analytics.fallback_awaiting_promotion AS
    SELECT f.event_id, f.event_type, f.user_id, f.movie_id, f.occurred_at, f.received_at,
           f.is_valid, f.rules_version, f.processed_at
    FROM fact_user_event_fallback f
    WHERE NOT EXISTS (SELECT 1 FROM fact_user_event e WHERE e.event_id = f.event_id);
    COMMENT ON VIEW analytics.fallback_awaiting_promotion IS 'Facts the pandas fallback built that an admin has not promoted yet (python -m app.jobs promote).';
    COMMENT ON COLUMN analytics.fallback_awaiting_promotion.event_id IS 'The event''s id.';
    COMMENT ON COLUMN analytics.fallback_awaiting_promotion.event_type IS 'watch, click or comment.';
    COMMENT ON COLUMN analytics.fallback_awaiting_promotion.user_id IS 'The application''s opaque user id.';
    COMMENT ON COLUMN analytics.fallback_awaiting_promotion.movie_id IS 'TMDB movie id.';
    COMMENT ON COLUMN analytics.fallback_awaiting_promotion.occurred_at IS 'When it happened, by the client''s clock.';
    COMMENT ON COLUMN analytics.fallback_awaiting_promotion.received_at IS 'When the service received it.';
    COMMENT ON COLUMN analytics.fallback_awaiting_promotion.is_valid IS 'Whether the rules accept it.';
    COMMENT ON COLUMN analytics.fallback_awaiting_promotion.rules_version IS 'Version of the rules that built it.';
    COMMENT ON COLUMN analytics.fallback_awaiting_promotion.processed_at IS 'When the fallback built it.';
"""


def view_script(view: str) -> str:
    """The statements of ANALYTICS that make one view and its comments."""
    start = ANALYTICS.index(f"CREATE VIEW analytics.{view} AS")
    end = ANALYTICS.find("\n    CREATE VIEW ", start)
    return ANALYTICS[start : end if end > 0 else None]


ANALYTICS_VIEWS = (
    "fallback_awaiting_promotion", "session_events", "sessions", "emotions_per_day",
    "daily_active_users", "user_daily_activity", "movie_daily_activity", "movie_genres", "movies",
)  # fmt: skip


def upgrade() -> None:
    rollups = "\n".join(create_rollup(table) for table in ROLLUPS)
    execute_script(f"""
        {rollups}
        CREATE INDEX ix_rollup_movie_day_day ON rollup_movie_day (day, movie_id);
        ALTER TABLE promotions ADD COLUMN max_received_at timestamptz;
        COMMENT ON COLUMN promotions.max_received_at IS 'The latest receive time among the promoted facts.';
    """)
    execute_script(rollup_functions())
    execute_script("""
        CREATE TRIGGER fact_user_event_rollups AFTER INSERT ON fact_user_event
            REFERENCING NEW TABLE AS new_facts
            FOR EACH STATEMENT EXECUTE FUNCTION add_new_facts_to_rollups();
    """)
    # Facts from before the trigger: counted once, here.
    execute_script(
        "SELECT rebuild_rollups(min(event_date), max(event_date)) FROM fact_user_event "
        "HAVING count(*) > 0"
    )
    execute_script(ANALYTICS)


def downgrade() -> None:
    views = "\n".join(f"DROP VIEW analytics.{view};" for view in ANALYTICS_VIEWS)
    tables = "\n".join(f"DROP TABLE {table};" for table in reversed(ROLLUPS))
    execute_script(f"""
        {views}
        DROP SCHEMA analytics;
        DROP TRIGGER fact_user_event_rollups ON fact_user_event;
        DROP FUNCTION add_new_facts_to_rollups();
        DROP FUNCTION rebuild_rollups(date, date);
        ALTER TABLE promotions DROP COLUMN max_received_at;
        {tables}
    """)
