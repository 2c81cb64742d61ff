"""Movie catalogue: dim_movie with genres, TMDB sync runs and checkpoints, scheduler slots.

Revision ID: 0002
Revises: 0001
"""

from app.db.sql_script import execute_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
        ALTER TABLE stg_movies ADD COLUMN details_hash text NOT NULL DEFAULT '';
        ALTER TABLE stg_movies ADD COLUMN gone_at timestamptz;
        COMMENT ON COLUMN stg_movies.details_hash IS 'Digest of details, to tell a changed movie from a refetched one.';
        COMMENT ON COLUMN stg_movies.gone_at IS 'When TMDB stopped knowing this movie (404), if it did.';

        CREATE TABLE dim_genre (
            genre_id   integer PRIMARY KEY,
            name       text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE dim_genre IS 'Movie genres as TMDB names them.';

        CREATE TABLE dim_movie (
            movie_id          bigint PRIMARY KEY,
            title             text NOT NULL,
            original_title    text,
            original_language text,
            release_date      date,
            release_year      integer,
            runtime_minutes   integer,
            genres            text NOT NULL DEFAULT '',
            popularity        double precision,
            vote_average      double precision,
            vote_count        integer,
            status            text,
            poster_path       text,
            is_placeholder    boolean NOT NULL DEFAULT false,
            is_gone           boolean NOT NULL DEFAULT false,
            source_flag       text NOT NULL DEFAULT 'tmdb',
            fetched_at        timestamptz,
            processed_at      timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_dim_movie_placeholder ON dim_movie (movie_id) WHERE is_placeholder;
        COMMENT ON TABLE dim_movie IS 'One row per movie (TMDB id), for joining facts to titles and genres.';
        COMMENT ON COLUMN dim_movie.genres IS 'Genre names, comma-separated, for quick filters; see movie_genre for joins.';
        COMMENT ON COLUMN dim_movie.is_placeholder IS 'True while the movie is known only from events; the next TMDB sync fills it in.';
        COMMENT ON COLUMN dim_movie.is_gone IS 'True when TMDB no longer has the movie.';
        COMMENT ON COLUMN dim_movie.source_flag IS 'Where the row comes from: tmdb, or events for a placeholder.';
        COMMENT ON COLUMN dim_movie.fetched_at IS 'When the details were fetched from TMDB.';
        COMMENT ON COLUMN dim_movie.processed_at IS 'When this row was last written.';

        CREATE TABLE movie_genre (
            movie_id bigint NOT NULL REFERENCES dim_movie (movie_id) ON DELETE CASCADE,
            genre_id integer NOT NULL REFERENCES dim_genre (genre_id),
            PRIMARY KEY (movie_id, genre_id)
        );
        CREATE INDEX ix_movie_genre_genre ON movie_genre (genre_id);
        COMMENT ON TABLE movie_genre IS 'Which genres each movie has (many to many).';

        CREATE TABLE tmdb_sync_runs (
            run_id          bigserial PRIMARY KEY,
            kind            text NOT NULL CHECK (kind IN ('full', 'changes', 'sample')),
            scheduled_slot  timestamptz,
            started_at      timestamptz NOT NULL DEFAULT now(),
            finished_at     timestamptz,
            status          text NOT NULL DEFAULT 'running'
                            CHECK (status IN ('running', 'succeeded', 'failed')),
            movies_fetched  integer NOT NULL DEFAULT 0,
            movies_changed  integer NOT NULL DEFAULT 0,
            movies_gone     integer NOT NULL DEFAULT 0,
            error           text
        );
        COMMENT ON TABLE tmdb_sync_runs IS 'Every TMDB sync run: when, what it fetched and changed, and how it ended.';

        CREATE TABLE tmdb_sync_state (
            name       text PRIMARY KEY,
            value      jsonb NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE tmdb_sync_state IS 'Checkpoints of incremental TMDB syncs (e.g. the changes feed).';

        CREATE TABLE scheduler_slots (
            job_id     text NOT NULL,
            slot_at    timestamptz NOT NULL,
            claimed_by text NOT NULL,
            claimed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (job_id, slot_at)
        );
        COMMENT ON TABLE scheduler_slots IS 'Which process ran each scheduled slot, so several processes run it once.';
    """)


def downgrade() -> None:
    execute_script("""
        DROP TABLE scheduler_slots;
        DROP TABLE tmdb_sync_state;
        DROP TABLE tmdb_sync_runs;
        DROP TABLE movie_genre;
        DROP TABLE dim_movie;
        DROP TABLE dim_genre;
        ALTER TABLE stg_movies DROP COLUMN gone_at;
        ALTER TABLE stg_movies DROP COLUMN details_hash;
    """)
