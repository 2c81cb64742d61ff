"""The audit: a ledger per stage, the findings of the reconciler, the canaries, table checks.

What the stores hold is counted per minute of receive time and event type in `audit.ledger`, by
statement triggers on the tables the writers fill, in the writing transaction: inserts add,
deletes subtract, so a row deleted by hand shows as a count that fell. The acknowledged events
(from ingest's receipts), the backup's writes and the dead letters are ledgers by event id of
their own, counted per window through their receive-time indexes; the reconciler's anti-joins
read them window by window.

Revision ID: 0012
Revises: 0011
"""

from app.db.sql_script import execute_script

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

WINDOW = "date_bin('1 minute', received_at, timestamptz '2000-01-01 00:00:00+00')"
# Per counted table: its stages, each an expression naming the stage and the rows it counts.
COUNTED = {
    "stg_user_logs": (("'staged'", "true"),),
    "fact_user_event": (
        ("'modelled'", "true"),
        ("'promoted'", "source_flag = 'pandas'"),
        ("'refused'", "NOT is_valid"),
    ),
    "fact_user_event_fallback": (("'fallback'", "true"),),
}
# What a TRUNCATE of each table leaves of its stages in the ledger: nothing.
TRUNCATED_STAGES = {
    "stg_user_logs": "staged",
    "fact_user_event": "modelled|promoted|refused",
    "fact_user_event_fallback": "fallback",
}


def function_name(table: str) -> str:
    return f"audit.count_{table}"


def counted_rows(table: str, transition: str, sign: str) -> str:
    return " UNION ALL ".join(
        f"SELECT {stage} AS stage, {WINDOW} AS window_start, event_type, {sign} AS events "
        f"FROM {transition} WHERE {where}"
        for stage, where in COUNTED[table]
    )


def add_to_ledger(rows: str) -> str:
    # Keys in order, so concurrent writers queue on a ledger row and never wait in a circle.
    return (
        "INSERT INTO audit.ledger AS l (stage, window_start, event_type, events) "
        f"SELECT stage, window_start, event_type, sum(events) FROM ({rows}) AS c "
        "GROUP BY 1, 2, 3 HAVING sum(events) <> 0 ORDER BY 1, 2, 3 "
        "ON CONFLICT (stage, window_start, event_type) "
        "DO UPDATE SET events = l.events + EXCLUDED.events, updated_at = now();"
    )


def ledger_triggers(table: str) -> str:
    name = function_name(table)
    short = name.removeprefix("audit.")
    inserted, deleted = counted_rows(table, "new_rows", "1"), counted_rows(table, "old_rows", "-1")
    patterns = ", ".join(f"'{p}'" for p in TRUNCATED_STAGES[table].split("|"))
    return f"""
    CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {add_to_ledger(inserted)}
        ELSIF TG_OP = 'DELETE' THEN
            {add_to_ledger(deleted)}
        ELSE
            {add_to_ledger(f"{inserted} UNION ALL {deleted}")}
        END IF;
        RETURN NULL;
    END
    $body$;
    COMMENT ON FUNCTION {name}() IS 'Counts the rows written to or removed from {table} into audit.ledger, in the writing transaction.';
    CREATE TRIGGER {short}_inserted AFTER INSERT ON {table}
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}();
    CREATE TRIGGER {short}_deleted AFTER DELETE ON {table}
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}();
    CREATE TRIGGER {short}_updated AFTER UPDATE ON {table}
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION {name}();
    CREATE TRIGGER {short}_truncated AFTER TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION audit.forget_stages({patterns});
    """


def upgrade() -> None:
    execute_script("""
        CREATE SCHEMA audit;
        COMMENT ON SCHEMA audit IS 'The pipeline''s own accounts: what each stage wrote, and where they disagree.';

        CREATE TABLE audit.ledger (
            stage        text NOT NULL,
            window_start timestamptz NOT NULL,
            event_type   text NOT NULL,
            events       bigint NOT NULL,
            updated_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (stage, window_start, event_type)
        );
        -- Also how the reconciler finds the recent windows whose counts moved since its last
        -- pass; an index on updated_at would make every count's update cost three index writes.
        CREATE INDEX ix_ledger_window ON audit.ledger (window_start);
        COMMENT ON TABLE audit.ledger IS 'Events each stage holds per minute of receive time and event type, kept by triggers in the writing transactions.';

        CREATE TABLE audit.acknowledged (
            event_id    uuid PRIMARY KEY,
            event_type  text NOT NULL,
            received_at timestamptz NOT NULL,
            user_hash   bytea NOT NULL
        );
        CREATE INDEX ix_acknowledged_received ON audit.acknowledged (received_at);
        COMMENT ON TABLE audit.acknowledged IS 'Every event ingest answered 202 for, from its receipts in Kafka.';
        -- No index on user_hash, in either ledger: it would cost every write a fifth more, and
        -- only an erasure, which is rare, looks a user up there.

        CREATE TABLE audit.backed_up (
            event_id    uuid PRIMARY KEY,
            event_type  text NOT NULL,
            received_at timestamptz NOT NULL,
            user_hash   bytea NOT NULL,
            written_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_backed_up_received ON audit.backed_up (received_at);
        COMMENT ON TABLE audit.backed_up IS 'Every event the MongoDB backup consumer wrote (or found written), recorded before its offsets were committed.';

        CREATE TABLE audit.dead_letters (
            consumer_group   text NOT NULL,
            origin_topic     text NOT NULL,
            origin_partition integer NOT NULL,
            origin_offset    bigint NOT NULL,
            event_id         uuid,
            event_type       text NOT NULL,
            received_at      timestamptz NOT NULL,
            reason           text NOT NULL,
            dead_lettered_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer_group, origin_topic, origin_partition, origin_offset)
        );
        CREATE INDEX ix_dead_letters_received ON audit.dead_letters (received_at);
        COMMENT ON TABLE audit.dead_letters IS 'Each record a consumer group dead-lettered, once however often it was sent there. An undecodable record has no event id; its time is Kafka''s.';

        CREATE FUNCTION audit.forget_stages() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            UPDATE audit.ledger SET events = 0, updated_at = now() WHERE stage LIKE ANY (TG_ARGV);
            RETURN NULL;
        END
        $body$;
        COMMENT ON FUNCTION audit.forget_stages() IS 'A truncated table holds nothing: its counts fall to 0, and the reconciler looks at those minutes again.';

        CREATE TABLE audit.findings (
            finding_id   bigserial PRIMARY KEY,
            stage        text NOT NULL,
            window_start timestamptz NOT NULL,
            kind         text NOT NULL CHECK (kind IN ('missing', 'extra', 'duplicate', 'stalled')),
            events       bigint NOT NULL,
            sample_ids   text[] NOT NULL DEFAULT '{}',
            detail       text NOT NULL DEFAULT '',
            opened_at    timestamptz NOT NULL DEFAULT now(),
            seen_at      timestamptz NOT NULL DEFAULT now(),
            closed_at    timestamptz
        );
        CREATE UNIQUE INDEX ux_findings_open ON audit.findings (stage, window_start, kind)
            WHERE closed_at IS NULL;
        CREATE INDEX ix_findings_opened ON audit.findings (opened_at);
        COMMENT ON TABLE audit.findings IS 'Where the stages disagree: open until later writes make them agree.';

        CREATE TABLE audit.windows (
            window_start timestamptz PRIMARY KEY,
            checked_at   timestamptz NOT NULL DEFAULT now(),
            acknowledged bigint NOT NULL,
            accounted    bigint NOT NULL,
            open_findings integer NOT NULL
        );
        COMMENT ON TABLE audit.windows IS 'Each minute the reconciler has checked: events acknowledged, and of those, in the model or awaiting promotion.';

        CREATE TABLE audit.backup_counts (
            counted_at  timestamptz PRIMARY KEY DEFAULT now(),
            documents   bigint NOT NULL,
            ledger      bigint NOT NULL,
            swept       boolean NOT NULL DEFAULT false,
            missing     bigint NOT NULL DEFAULT 0
        );
        COMMENT ON TABLE audit.backup_counts IS 'MongoDB''s count of the backup held against the backup''s ledger; a walk of the backup (swept) names what went missing.';

        CREATE TABLE audit.canaries (
            event_id        uuid PRIMARY KEY,
            received_at     timestamptz NOT NULL,
            acknowledged_at timestamptz,
            backed_up_at    timestamptz,
            staged_at       timestamptz,
            modelled_at     timestamptz
        );
        CREATE INDEX ix_canaries_received ON audit.canaries (received_at);
        COMMENT ON TABLE audit.canaries IS 'The synthetic events sent through the whole pipeline, and when each stage held them.';

        CREATE TABLE audit.table_checks (
            check_name text PRIMARY KEY,
            table_name text NOT NULL,
            kind       text NOT NULL,
            passed     boolean NOT NULL,
            failing    bigint NOT NULL DEFAULT 0,
            detail     text NOT NULL DEFAULT '',
            checked_at timestamptz NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE audit.table_checks IS 'The latest result of each declared table check (app/audit/table_checks.json).';
    """)
    execute_script("\n".join(ledger_triggers(table) for table in COUNTED))
    execute_script("""
        -- The canary's facts are refused by the rules (synthetic); analysts never see them.
        CREATE OR REPLACE VIEW analytics.fallback_awaiting_promotion AS
        SELECT f.event_id, f.event_type, f.user_id, f.movie_id, f.occurred_at, f.received_at,
               f.is_valid, f.rules_version, f.processed_at
        FROM fact_user_event_fallback f
        WHERE NOT EXISTS (SELECT 1 FROM fact_user_event e WHERE e.event_id = f.event_id)
          AND f.invalid_reason IS DISTINCT FROM 'synthetic';

        CREATE VIEW analytics.audit_completeness AS
        SELECT window_start, acknowledged, accounted,
               CASE WHEN acknowledged = 0 THEN 1 ELSE accounted::double precision / acknowledged END
                   AS completeness,
               open_findings, checked_at
        FROM audit.windows;
        COMMENT ON VIEW analytics.audit_completeness IS 'Per minute of receive time the audit has checked: how many acknowledged events reached the model (or await promotion). The promise: at least 99.99% within 5 minutes.';
        COMMENT ON COLUMN analytics.audit_completeness.window_start IS 'The minute (UTC) the events were received in.';
        COMMENT ON COLUMN analytics.audit_completeness.acknowledged IS 'Events ingest answered 202 for in that minute (the canary included).';
        COMMENT ON COLUMN analytics.audit_completeness.accounted IS 'Of those, events in the model or in the fallback awaiting promotion.';
        COMMENT ON COLUMN analytics.audit_completeness.completeness IS 'accounted / acknowledged; 1 for a minute without events.';
        COMMENT ON COLUMN analytics.audit_completeness.open_findings IS 'Findings of that minute still open when it was last checked.';
        COMMENT ON COLUMN analytics.audit_completeness.checked_at IS 'When the reconciler last checked that minute.';

        CREATE VIEW analytics.audit_findings AS
        SELECT finding_id, stage, window_start, kind, events, detail, opened_at, closed_at,
               closed_at IS NULL AS is_open
        FROM audit.findings;
        COMMENT ON VIEW analytics.audit_findings IS 'Where the pipeline''s stages disagreed, per minute of receive time; a finding closes itself once later writes make them agree.';
        COMMENT ON COLUMN analytics.audit_findings.finding_id IS 'The finding''s number (python -m app.jobs audit shows its sample event ids).';
        COMMENT ON COLUMN analytics.audit_findings.stage IS 'The stage that disagrees: backed_up, staged, modelled, canary, ...';
        COMMENT ON COLUMN analytics.audit_findings.window_start IS 'The minute (UTC) of receive time it is about.';
        COMMENT ON COLUMN analytics.audit_findings.kind IS 'missing, extra, duplicate or stalled.';
        COMMENT ON COLUMN analytics.audit_findings.events IS 'How many events it is about.';
        COMMENT ON COLUMN analytics.audit_findings.detail IS 'What was compared, in words.';
        COMMENT ON COLUMN analytics.audit_findings.opened_at IS 'When the reconciler first saw it.';
        COMMENT ON COLUMN analytics.audit_findings.closed_at IS 'When the stages agreed again; empty while open.';
        COMMENT ON COLUMN analytics.audit_findings.is_open IS 'Still open.';
    """)


def downgrade() -> None:
    execute_script("""
        DROP VIEW analytics.audit_findings;
        DROP VIEW analytics.audit_completeness;
        CREATE OR REPLACE VIEW analytics.fallback_awaiting_promotion AS
        SELECT f.event_id, f.event_type, f.user_id, f.movie_id, f.occurred_at, f.received_at,
               f.is_valid, f.rules_version, f.processed_at
        FROM fact_user_event_fallback f
        WHERE NOT EXISTS (SELECT 1 FROM fact_user_event e WHERE e.event_id = f.event_id);
    """)
    for table in COUNTED:
        short = function_name(table).removeprefix("audit.")
        execute_script(
            "\n".join(
                f"DROP TRIGGER {short}_{event} ON {table};"
                for event in ("inserted", "deleted", "updated", "truncated")
            )
        )
    execute_script("DROP SCHEMA audit CASCADE;")
