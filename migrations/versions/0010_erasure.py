"""Erasure: the suppression list of forgotten users and the audit of each erasure.

Both hold a user only as the SHA-256 of their id (bytes), `user_hash()`, which
jobs/forgotten_users.py computes the same way in Python.

Revision ID: 0010
Revises: 0009
"""

from app.db.sql_script import execute_script

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
        CREATE FUNCTION user_hash(user_id text) RETURNS bytea
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        RETURN sha256(convert_to(user_id, 'UTF8'));
        COMMENT ON FUNCTION user_hash(text) IS 'SHA-256 of a user id: how forgotten users are listed. SELECT * FROM erasures WHERE user_hash = user_hash(''someone'').';

        CREATE TABLE forgotten_users (
            user_hash     bytea PRIMARY KEY,
            forgotten_at  timestamptz NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE forgotten_users IS 'Users erased by python -m app.jobs forget-user. The consumers, Spark, the fallback and promotion write no row of theirs, so neither Kafka''s copies nor a replay bring them back.';

        CREATE TABLE erasures (
            erasure_id    bigserial PRIMARY KEY,
            user_hash     bytea NOT NULL REFERENCES forgotten_users,
            requested_by  text NOT NULL,
            started_at    timestamptz NOT NULL DEFAULT now(),
            finished_at   timestamptz,
            rows_removed  jsonb
        );
        COMMENT ON TABLE erasures IS 'Each forget-user run: who asked, when, and what it removed per store. No finished_at: it stopped before the end and must be run again.';

        -- An erasure finds a user's comments by user.
        CREATE INDEX ix_stg_comments_user ON stg_comments (user_id);
        CREATE INDEX ix_event_id_conflicts_user ON event_id_conflicts (user_id);
    """)


def downgrade() -> None:
    execute_script("""
        DROP INDEX ix_event_id_conflicts_user;
        DROP INDEX ix_stg_comments_user;
        DROP TABLE erasures;
        DROP TABLE forgotten_users;
        DROP FUNCTION user_hash(text);
    """)
