"""The DDL that turns a table into one partitioned by time, keeping its rows, and back; for the
migrations.

The rows already there stay where they are: the table is attached whole as the partition of
everything before the next period after the upgrade (a scan to check the bound and the new
key's index built: no row is rewritten). Views over the table are redefined over the new one,
and its triggers move to it, once the rows are in place (so they count nothing again).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Layout:
    table: str  # schema-qualified unless public's
    key: str  # what identifies a row, without the time
    time_column: str
    period: str  # "day" or "month"
    comment: str
    old_comment: str
    indexes: dict[str, str] = field(default_factory=dict)  # name -> "(columns)"
    # Keep the partition of all that came before even when it is empty: a late write (a replay
    # of old events) then always has somewhere to go.
    keep_before: bool = False

    @property
    def bare(self) -> str:
        return self.table.rpartition(".")[2]

    @property
    def schema(self) -> str:
        """`audit.` for a table of the audit's schema, nothing for public's."""
        return self.table.rpartition(".")[0] + "." if "." in self.table else ""


def renamed_indexes(layout: Layout, suffix: str) -> str:
    names = [f"{layout.bare}_pkey", *layout.indexes]
    return "\n".join(
        f"ALTER INDEX {layout.schema}{name} RENAME TO {name}_{suffix};" for name in names
    )


def created_indexes(layout: Layout) -> str:
    return "\n".join(
        f"CREATE INDEX {name} ON {layout.table} {columns};"
        for name, columns in layout.indexes.items()
    )


def redefined_views(old: str, new: str) -> str:
    """Each view reading `old` reads `new` instead (a view follows a renamed table)."""
    return f"""
        DO $body$
        DECLARE
            dependent regclass;
        BEGIN
            FOR dependent IN SELECT DISTINCT r.ev_class::regclass FROM pg_depend d
                JOIN pg_rewrite r ON r.oid = d.objid
                WHERE d.refobjid = '{old}'::regclass AND r.ev_class <> '{old}'::regclass
            LOOP
                EXECUTE format('CREATE OR REPLACE VIEW %s AS %s', dependent,
                    regexp_replace(pg_get_viewdef(dependent), '\\m{old.rpartition(".")[2]}\\M',
                        '{new.rpartition(".")[2]}', 'g'));
            END LOOP;
        END
        $body$;
    """


def moved_triggers(old: str, new: str) -> str:
    """Each trigger of `old` recreated on `new` (the audit's counts, the rollups)."""
    return f"""
        DO $body$
        DECLARE
            moving record;
        BEGIN
            FOR moving IN SELECT tgname, pg_get_triggerdef(oid) AS definition FROM pg_trigger
                WHERE tgrelid = '{old}'::regclass AND NOT tgisinternal
            LOOP
                EXECUTE format('DROP TRIGGER %I ON {old}', moving.tgname);
                EXECUTE regexp_replace(moving.definition, ' ON \\S+ ', ' ON {new} ');
            END LOOP;
        END
        $body$;
    """


def partitioned(layout: Layout) -> str:
    table, bare, time, period = layout.table, layout.bare, layout.time_column, layout.period
    stamp = "YYYYMMDD" if period == "day" else "YYYYMM"
    # The old table's indexes serve the parent's; its key makes way for the parent's.
    return f"""
        ALTER TABLE {table} RENAME TO {bare}_old;
        {renamed_indexes(layout, "old")}
        ALTER TABLE {table}_old DROP CONSTRAINT {bare}_pkey_old;
        CREATE TABLE {table} (
            LIKE {table}_old INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS,
            PRIMARY KEY ({layout.key}, {time})
        ) PARTITION BY RANGE ({time});
        {created_indexes(layout)}
        COMMENT ON TABLE {table} IS '{layout.comment}';
        {redefined_views(f"{table}_old", table)}
        {moved_triggers(f"{table}_old", table)}
        DO $body$
        DECLARE
            until timestamptz;
        BEGIN
            IF {"false" if layout.keep_before else "true"}
                    AND NOT EXISTS (SELECT 1 FROM {table}_old) THEN
                DROP TABLE {table}_old;
                RETURN;
            END IF;
            SELECT (date_trunc('{period}', greatest(now(), max({time})) AT TIME ZONE 'UTC')
                    + interval '1 {period}') AT TIME ZONE 'UTC'
                INTO until FROM {table}_old;
            EXECUTE format('ALTER TABLE {table} ATTACH PARTITION {table}_old '
                'FOR VALUES FROM (MINVALUE) TO (%L)', until);
            EXECUTE format('ALTER TABLE {table}_old RENAME TO %I',
                '{bare}_before_' || to_char(until AT TIME ZONE 'UTC', '{stamp}'));
        END
        $body$;
    """


def unpartitioned(layout: Layout) -> str:
    """Back to one table: a row per key, the first in time."""
    table, bare, key = layout.table, layout.bare, layout.key
    return f"""
        ALTER TABLE {table} RENAME TO {bare}_partitioned;
        {renamed_indexes(layout, "partitioned")}
        CREATE TABLE {table} (
            LIKE {table}_partitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS,
            PRIMARY KEY ({key})
        );
        {created_indexes(layout)}
        COMMENT ON TABLE {table} IS '{layout.old_comment}';
        INSERT INTO {table} SELECT DISTINCT ON ({key}) * FROM {table}_partitioned
            ORDER BY {key}, {layout.time_column};
        {redefined_views(f"{table}_partitioned", table)}
        {moved_triggers(f"{table}_partitioned", table)}
        DROP TABLE {table}_partitioned;
    """
