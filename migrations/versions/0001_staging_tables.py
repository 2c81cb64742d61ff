"""Staging tables: every event, comments, and the latest TMDB details per movie.

Revision ID: 0001
Revises:
"""

from app.db.sql_script import execute_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
        CREATE TABLE stg_user_logs (
            event_id        uuid PRIMARY KEY,
            event_type      text NOT NULL CHECK (event_type IN ('watch', 'click', 'comment')),
            user_id         text NOT NULL,
            session_id      text,
            movie_id        bigint,
            occurred_at     timestamptz NOT NULL,
            received_at     timestamptz NOT NULL,
            schema_version  integer NOT NULL,
            context         jsonb NOT NULL DEFAULT '{}'::jsonb,
            payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
            kafka_topic     text NOT NULL,
            kafka_partition integer NOT NULL,
            kafka_offset    bigint NOT NULL,
            staged_at       timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_stg_user_logs_received_at ON stg_user_logs (received_at);
        CREATE INDEX ix_stg_user_logs_user_occurred ON stg_user_logs (user_id, occurred_at);
        COMMENT ON TABLE stg_user_logs IS
            'Every frontend event (watch, click, comment) as received, one row per event_id.';
        COMMENT ON COLUMN stg_user_logs.event_id IS 'Event id from the client, or assigned on ingest.';
        COMMENT ON COLUMN stg_user_logs.occurred_at IS 'When the event happened, by the client clock.';
        COMMENT ON COLUMN stg_user_logs.received_at IS 'When the ingest API received the event.';
        COMMENT ON COLUMN stg_user_logs.context IS 'Page, referrer, locale, device, user agent.';
        COMMENT ON COLUMN stg_user_logs.payload IS 'Type-specific fields of the event.';
        COMMENT ON COLUMN stg_user_logs.staged_at IS 'When this row was written to staging.';

        CREATE TABLE stg_comments (
            event_id        uuid PRIMARY KEY,
            user_id         text NOT NULL,
            session_id      text,
            movie_id        bigint NOT NULL,
            comment_text    text NOT NULL,
            rating          numeric(3, 1) CHECK (rating BETWEEN 0 AND 10),
            parent_event_id uuid,
            occurred_at     timestamptz NOT NULL,
            received_at     timestamptz NOT NULL,
            staged_at       timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_stg_comments_movie_occurred ON stg_comments (movie_id, occurred_at);
        COMMENT ON TABLE stg_comments IS 'Comment events with their text and optional rating.';
        COMMENT ON COLUMN stg_comments.rating IS 'Rating from 0 to 10 given with the comment, if any.';
        COMMENT ON COLUMN stg_comments.parent_event_id IS 'The comment this one answers, if any.';

        CREATE TABLE stg_movies (
            movie_id          bigint PRIMARY KEY,
            title             text NOT NULL,
            original_title    text,
            original_language text,
            overview          text,
            release_date      date,
            runtime_minutes   integer,
            genres            jsonb NOT NULL DEFAULT '[]'::jsonb,
            popularity        double precision,
            vote_average      double precision,
            vote_count        integer,
            status            text,
            poster_path       text,
            details           jsonb NOT NULL,
            fetched_at        timestamptz NOT NULL,
            staged_at         timestamptz NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE stg_movies IS 'Latest TMDB details of each movie, keyed by TMDB id.';
        COMMENT ON COLUMN stg_movies.genres IS 'Genres as a JSON array of {id, name}.';
        COMMENT ON COLUMN stg_movies.details IS 'The full TMDB details document as fetched.';
        COMMENT ON COLUMN stg_movies.fetched_at IS 'When these details were fetched from TMDB.';
    """)


def downgrade() -> None:
    execute_script("DROP TABLE stg_movies;\nDROP TABLE stg_comments;\nDROP TABLE stg_user_logs;")
