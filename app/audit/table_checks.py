"""Table checks declared in table_checks.json, in the spirit of dbt's tests, over the tables the
pipeline writes. A run records each check's latest result in audit.table_checks and sets
AUDIT_TABLE_CHECK_FAILURES; a check that errors or times out fails alone, the others still run.

Bounding, as tables may hold tens of millions of rows (only dim_movie, small, is read whole):
- not_null, accepted_values, unique and relationship read the rows whose indexed `window_column`
  is in the last `window_hours`, ending `settle_seconds` ago (the consumers write staging rows,
  placeholder movies, facts and sessions independently: a fresh row may await its partner);
  relationship probes its target through an index, row by row.
- dim_session has no index on session_start alone, only (user_id, session_start): its window is
  the sessions starting in the window of the users staged in it (`window_keys`), a range of
  stg_user_logs' received_at, then one index range per user. Users come from staging, not the
  facts, so a session whose user has no fact at all is seen (not one whose user sent nothing).
- freshness reads the newest value in the last max(window_hours, max_age) by the window column;
  an empty table passes ("empty") unless `required`. volume counts two index ranges: the last
  complete UTC hour and the same hour a week earlier. Both are refused on window_keys tables.
`failing` counts rows (not_null, accepted_values, relationship), duplicated keys (unique), rows
short of the week-earlier hour (volume); 1 for a stale table or a check that could not run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.audit import table_check_sql as sql
from app.audit.table_check_sql import Check, Declarations, Table, TableCheckResult, WindowKeys
from app.db.postgres import PostgresPool
from app.metrics import AUDIT_TABLE_CHECK_FAILURES

DEFAULT_PATH = Path(__file__).with_name("table_checks.json")
SETTINGS = ("about", "window_hours", "settle_seconds", "statement_timeout_ms", "tables", "checks")
KEY_FIELDS = ("column", "from_table", "from_column")
TABLE_KEYS = {"window_column", "window_keys"}
# Local to the check's transaction: the pooled connection keeps its own setting after.
SET_TIMEOUT = "SELECT set_config('statement_timeout', $1 || 'ms', true)"
UPSERT = """
    INSERT INTO audit.table_checks (check_name, table_name, kind, passed, failing, detail)
    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (check_name) DO UPDATE SET
    table_name = $2, kind = $3, passed = $4, failing = $5, detail = $6, checked_at = now()
"""
PRUNE = "DELETE FROM audit.table_checks WHERE check_name <> ALL($1::text[])"


class TableCheckError(ValueError):
    """A malformed declaration; the message names the check (or table) at fault."""


def accepts(test: Callable[[Any], Any], what: str) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        if not test(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return validate


def number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)  # JSON true is no 1


def identifiers(value: Any) -> tuple[str, ...]:
    listed = accepts(lambda v: isinstance(v, list) and v, "a non-empty list")(value)
    return tuple(sql.identifier(item) for item in listed)


def filters(value: Any) -> tuple[tuple[str, Any], ...]:
    """Equalities `column = value`; not null, as `= NULL` matches nothing."""
    scalar = accepts(lambda item: isinstance(item, str | bool) or number(item), "a scalar")
    valid = accepts(lambda v: isinstance(v, dict) and v, "an object of column: value")(value)
    return tuple((sql.identifier(column), scalar(item)) for column, item in valid.items())


POSITIVE = accepts(lambda value: number(value) and value > 0, "a positive number")
RATIO = accepts(lambda value: number(value) and 0 < value <= 1, "a ratio in (0, 1]")
FLAG = accepts(lambda value: isinstance(value, bool), "true or false")
TEXTS = accepts(lambda v: isinstance(v, list) and v and all(isinstance(i, str) for i in v), "texts")
KINDS: dict[str, tuple[dict[str, Callable[[Any], Any]], dict[str, Callable[[Any], Any]]]] = {
    # kind: (required arguments, optional arguments)
    "not_null": ({"columns": identifiers}, {"where": filters}),
    "accepted_values": ({"column": sql.identifier, "values": TEXTS}, {"where": filters}),
    "unique": ({"columns": identifiers}, {"where": filters}),
    "relationship": (
        {"columns": identifiers, "to_table": sql.identifier, "to_columns": identifiers},
        {"where": filters, "to_where": filters},
    ),
    "freshness": ({"column": sql.identifier, "max_age_seconds": POSITIVE}, {"required": FLAG}),
    "volume": ({"column": sql.identifier, "min_ratio": RATIO}, {}),
}


def load_declarations(path: Path = DEFAULT_PATH) -> Declarations:
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError) as error:
        raise TableCheckError(f"{path}: cannot read the table checks: {error}") from None
    return parse_declarations(document)


def parse_declarations(document: Any) -> Declarations:
    if not isinstance(document, dict) or set(document) - set(SETTINGS):
        raise TableCheckError(f"the table checks want an object of {', '.join(SETTINGS)}")
    raw_tables, raw_checks = document.get("tables"), document.get("checks")
    try:
        hours = POSITIVE(document.get("window_hours"))
        timeout = POSITIVE(document.get("statement_timeout_ms"))
        settle = accepts(lambda v: number(v) and v >= 0, ">= 0")(document.get("settle_seconds", 0))
        if not isinstance(raw_tables, dict) or not isinstance(raw_checks, list):
            raise ValueError("'tables' must be an object and 'checks' a list")
    except ValueError as error:
        raise TableCheckError(f"settings: {error}") from None
    tables = {name: parse_table(name, raw) for name, raw in raw_tables.items()}
    for table in tables.values():
        source = table.window_keys and tables.get(table.window_keys.from_table)
        if table.window_keys and (not source or not source.window_column or source.window_keys):
            raise TableCheckError(f"table {table.name!r}: window_keys wants a windowed from_table")
    checks = tuple(parse_check(raw, tables) for raw in raw_checks)
    names = [check.name for check in checks]
    if twice := sorted({name for name in names if names.count(name) > 1}):
        raise TableCheckError(f"checks declared twice: {twice}")
    return Declarations(hours, settle, int(timeout), tables, checks)


def parse_table(name: str, raw: Any) -> Table:
    try:
        sql.identifier(name)
        if not isinstance(raw, dict) or {"window_column"} - set(raw) or set(raw) - TABLE_KEYS:
            raise ValueError("wants window_column (null: small, read whole), maybe window_keys")
        column = None if raw["window_column"] is None else sql.identifier(raw["window_column"])
        if (keys := raw.get("window_keys")) is None:
            return Table(name, column)
        if not column or not isinstance(keys, dict) or set(keys) != set(KEY_FIELDS):
            raise ValueError(f"window_keys wants a window_column and {', '.join(KEY_FIELDS)}")
        return Table(name, column, WindowKeys(*(sql.identifier(keys[key]) for key in KEY_FIELDS)))
    except ValueError as error:
        raise TableCheckError(f"table {name!r}: {error}") from None


def parse_check(raw: Any, tables: Mapping[str, Table]) -> Check:
    name, raw = (raw.get("name"), raw) if isinstance(raw, dict) else (raw, {})
    try:
        sql.identifier(name)
        kind, table = str(raw.get("kind")), tables.get(str(raw.get("table")))  # lists unhashable
        if kind not in KINDS or table is None:
            raise ValueError(f"wants a kind of {', '.join(KINDS)} and a table declared in 'tables'")
        required, optional = KINDS[kind]
        given = set(raw) - {"name", "table", "kind", "description"}
        if wrong := (set(required) - given) | (given - set(required) - set(optional)):
            raise ValueError(f"{kind} wants {sorted(required)}, may take {sorted(optional)}; "
                             f"missing or unknown: {sorted(wrong)}")  # fmt: skip
        args = {key: {**required, **optional}[key](raw[key]) for key in given}
        if kind == "relationship" and len(args["columns"]) != len(args["to_columns"]):
            raise ValueError("columns and to_columns differ in length")
        # What the SQL could not read through an index range of the table:
        if kind in ("freshness", "volume") and table.window_keys is not None:
            raise ValueError(f"{kind} wants a table whose window_column is indexed on its own")
        if kind == "volume" and table.window_column not in (None, args["column"]):
            raise ValueError(f"volume counts by the table's indexed {table.window_column}")
        return Check(name, table.name, kind, args)
    except ValueError as error:
        raise TableCheckError(f"check {name!r}: {error}") from None


async def run_table_checks(
    postgres: PostgresPool, now: datetime | None = None, declarations: Declarations | None = None
) -> list[TableCheckResult]:
    """Run every declared check as of `now`, record the results and set the gauge."""
    declared, at = declarations or load_declarations(), now or datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    results = [await _run(postgres, declared, check, at) for check in declared.checks]
    for result in results:
        AUDIT_TABLE_CHECK_FAILURES.labels(result.check_name).set(result.failing)
    async with postgres.connection() as connection, connection.transaction():
        await connection.executemany(UPSERT, [
            (r.check_name, r.table_name, r.kind, r.passed, r.failing, r.detail) for r in results
        ])  # fmt: skip
        # The table holds the latest result of each declared check: one no longer declared goes.
        await connection.execute(PRUNE, [result.check_name for result in results])
    return results


async def _run(
    postgres: PostgresPool, declared: Declarations, check: Check, at: datetime
) -> TableCheckResult:
    try:
        query, params = sql.build_query(check, declared, at)
        async with postgres.connection() as connection, connection.transaction(readonly=True):
            await connection.execute(SET_TIMEOUT, str(declared.statement_timeout_ms))
            row = await connection.fetchrow(query, *params)
        outcome = sql.read_result(check, declared, at, row)
    except Exception as error:  # a check that cannot run fails alone; the others still run
        outcome = False, 1, f"error: {type(error).__name__}: {error}"[:1000]
    return TableCheckResult(check.name, check.table, check.kind, *outcome)
