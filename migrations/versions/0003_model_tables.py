"""Model tables: facts and sessions from Spark, their pandas fallback twins, and bookkeeping.

Revision ID: 0003
Revises: 0002
"""

import re

from app.db.sql_script import execute_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FACT_COLUMNS = """
    event_id          uuid PRIMARY KEY,
    event_type        text NOT NULL,
    user_id           text NOT NULL,
    client_session_id text,
    movie_id          bigint,
    occurred_at       timestamptz NOT NULL,
    received_at       timestamptz NOT NULL,
    event_date        date NOT NULL,
    event_hour        smallint NOT NULL,
    watch_action      text,
    position_seconds  double precision,
    duration_seconds  double precision,
    watch_seconds     double precision,
    completion_ratio  double precision,
    is_completed      boolean NOT NULL,
    click_element     text,
    click_target      text,
    page              text,
    device            text,
    locale            text,
    rating            double precision,
    rating_bucket     text,
    emotion           text,
    emotion_score     integer,
    is_valid          boolean NOT NULL,
    invalid_reason    text,
    rules_version     text NOT NULL,
    source_flag       text NOT NULL,
    processed_at      timestamptz NOT NULL DEFAULT now()
"""
SESSION_COLUMNS = """
    session_id       text PRIMARY KEY,
    user_id          text NOT NULL,
    session_start    timestamptz NOT NULL,
    session_end      timestamptz NOT NULL,
    duration_seconds double precision NOT NULL,
    event_count      integer NOT NULL,
    watch_count      integer NOT NULL,
    click_count      integer NOT NULL,
    comment_count    integer NOT NULL,
    movies_watched   integer NOT NULL,
    watch_seconds    double precision NOT NULL,
    rules_version    text NOT NULL,
    source_flag      text NOT NULL,
    processed_at     timestamptz NOT NULL DEFAULT now()
"""


def incoming(columns: str) -> str:
    """An incoming table's columns: the model's, with the time set when merged."""
    return re.sub(
        r"processed_at\s+timestamptz NOT NULL DEFAULT now\(\)", "processed_at timestamptz", columns
    )


def fact_comments(table: str) -> str:
    return f"""
        COMMENT ON COLUMN {table}.event_type IS 'watch, click or comment, after alias normalisation.';
        COMMENT ON COLUMN {table}.client_session_id IS 'The session id the frontend sent, if any; see dim_session for derived sessions.';
        COMMENT ON COLUMN {table}.event_date IS 'UTC date of occurred_at.';
        COMMENT ON COLUMN {table}.event_hour IS 'UTC hour (0-23) of occurred_at.';
        COMMENT ON COLUMN {table}.watch_seconds IS 'How far into the movie the viewer got (0 for a start), clamped to the duration.';
        COMMENT ON COLUMN {table}.completion_ratio IS 'position / duration, between 0 and 1; empty without a duration.';
        COMMENT ON COLUMN {table}.is_completed IS 'A complete action, or a completion ratio at or above the rules threshold.';
        COMMENT ON COLUMN {table}.rating_bucket IS 'low, medium or high, by the rules buckets.';
        COMMENT ON COLUMN {table}.emotion IS 'positive, negative or neutral, from the comment text by the rules lexicon.';
        COMMENT ON COLUMN {table}.emotion_score IS 'Lexicon hits, positive minus negative, negations flipped.';
        COMMENT ON COLUMN {table}.is_valid IS 'False when a validity rule failed; such events count in no session.';
        COMMENT ON COLUMN {table}.invalid_reason IS 'The first validity rule the event failed.';
        COMMENT ON COLUMN {table}.rules_version IS 'Version and digest of transform_rules.json that built the row.';
        COMMENT ON COLUMN {table}.source_flag IS 'spark (stream) or pandas (fallback, promoted by an admin).';
        COMMENT ON COLUMN {table}.processed_at IS 'When the row was written.';
    """


def upgrade() -> None:
    execute_script(f"""
        CREATE TABLE fact_user_event ({FACT_COLUMNS});
        CREATE INDEX ix_fact_user_event_occurred ON fact_user_event (occurred_at);
        CREATE INDEX ix_fact_user_event_user_occurred ON fact_user_event (user_id, occurred_at);
        CREATE INDEX ix_fact_user_event_movie_date ON fact_user_event (movie_id, event_date);
        CREATE INDEX ix_fact_user_event_received ON fact_user_event (received_at);
        COMMENT ON TABLE fact_user_event IS 'One row per frontend event, cleaned and enriched by transform_rules.json.';
        {fact_comments("fact_user_event")}

        CREATE TABLE fact_user_event_fallback ({FACT_COLUMNS});
        CREATE INDEX ix_fact_user_event_fallback_received ON fact_user_event_fallback (received_at);
        CREATE INDEX ix_fact_user_event_fallback_user ON fact_user_event_fallback (user_id, occurred_at);
        COMMENT ON TABLE fact_user_event_fallback IS 'Facts the pandas fallback built while Spark lagged; an admin promotes them.';
        {fact_comments("fact_user_event_fallback")}

        CREATE TABLE dim_session ({SESSION_COLUMNS});
        CREATE INDEX ix_dim_session_user_start ON dim_session (user_id, session_start);
        COMMENT ON TABLE dim_session IS 'Viewing sessions per user, split by inactivity and maximum length (transform_rules.json).';
        COMMENT ON COLUMN dim_session.session_id IS 'user_id and the first event time in Unix milliseconds.';
        COMMENT ON COLUMN dim_session.watch_seconds IS 'Seconds of movie advanced during the session, summed over movies.';
        COMMENT ON COLUMN dim_session.movies_watched IS 'Distinct movies with watch events in the session.';

        CREATE TABLE dim_session_fallback ({SESSION_COLUMNS});
        CREATE INDEX ix_dim_session_fallback_user ON dim_session_fallback (user_id, session_start);
        COMMENT ON TABLE dim_session_fallback IS 'Sessions the pandas fallback derived from its own facts.';

        CREATE UNLOGGED TABLE spark_incoming_facts (
            stream text NOT NULL, batch_id bigint NOT NULL,
            {incoming(FACT_COLUMNS.replace("uuid PRIMARY KEY", "text NOT NULL"))});
        CREATE INDEX ix_spark_incoming_facts_batch ON spark_incoming_facts (stream, batch_id);
        COMMENT ON TABLE spark_incoming_facts IS 'Internal: a Spark batch''s facts before they are merged.';
        CREATE UNLOGGED TABLE spark_incoming_sessions (
            stream text NOT NULL, batch_id bigint NOT NULL,
            {incoming(SESSION_COLUMNS.replace("PRIMARY KEY", "NOT NULL"))});
        CREATE INDEX ix_spark_incoming_sessions_batch ON spark_incoming_sessions (stream, batch_id);
        COMMENT ON TABLE spark_incoming_sessions IS 'Internal: a Spark batch''s recomputed sessions before they replace the old.';

        CREATE UNLOGGED TABLE spark_session_bounds (
            stream      text NOT NULL,
            batch_id    bigint NOT NULL,
            user_id     text NOT NULL,
            lower_bound timestamptz NOT NULL,
            PRIMARY KEY (stream, batch_id, user_id)
        );
        COMMENT ON TABLE spark_session_bounds IS 'Internal: per user of a Spark batch, from when its sessions are rebuilt.';

        CREATE TABLE spark_batches (
            stream          text NOT NULL,
            batch_id        bigint NOT NULL,
            events          integer NOT NULL,
            unparsed        integer NOT NULL,
            max_received_at timestamptz,
            processed_at    timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (stream, batch_id)
        );
        CREATE INDEX ix_spark_batches_processed ON spark_batches (processed_at);
        COMMENT ON TABLE spark_batches IS 'Every micro-batch the Spark stream committed; a replayed batch is skipped.';
        COMMENT ON COLUMN spark_batches.stream IS 'The stream''s checkpoint location: batch ids count per checkpoint.';

        CREATE TABLE spark_offsets (
            stream          text NOT NULL,
            topic           text NOT NULL,
            kafka_partition integer NOT NULL,
            next_offset     bigint NOT NULL,
            updated_at      timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (stream, topic, kafka_partition)
        );
        COMMENT ON TABLE spark_offsets IS 'How far each Spark stream (by checkpoint) has got in each Kafka partition.';

        CREATE TABLE fallback_runs (
            run_id       bigserial PRIMARY KEY,
            trigger      text NOT NULL CHECK (trigger IN ('auto', 'manual')),
            range_start  timestamptz NOT NULL,
            range_end    timestamptz NOT NULL,
            started_at   timestamptz NOT NULL DEFAULT now(),
            finished_at  timestamptz,
            status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
            events       integer NOT NULL DEFAULT 0,
            sessions     integer NOT NULL DEFAULT 0,
            error        text
        );
        COMMENT ON TABLE fallback_runs IS 'Every pandas fallback run: the received_at range it covered and how it ended.';

        CREATE TABLE promotions (
            promotion_id     bigserial PRIMARY KEY,
            range_start      timestamptz,
            range_end        timestamptz,
            promoted_at      timestamptz NOT NULL DEFAULT now(),
            promoted_by      text NOT NULL,
            events_promoted  integer NOT NULL,
            sessions_rebuilt integer NOT NULL
        );
        COMMENT ON TABLE promotions IS 'Audit of fallback facts an admin promoted into the model tables.';

        CREATE TABLE runtime_settings (
            name       text PRIMARY KEY,
            value      text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE runtime_settings IS 'Settings ops change at run time, e.g. fallback_mode (auto, manual, off).';
    """)


def downgrade() -> None:
    execute_script("""
        DROP TABLE runtime_settings;
        DROP TABLE promotions;
        DROP TABLE fallback_runs;
        DROP TABLE spark_offsets;
        DROP TABLE spark_batches;
        DROP TABLE spark_session_bounds;
        DROP TABLE spark_incoming_sessions;
        DROP TABLE spark_incoming_facts;
        DROP TABLE dim_session_fallback;
        DROP TABLE dim_session;
        DROP TABLE fact_user_event_fallback;
        DROP TABLE fact_user_event;
    """)
