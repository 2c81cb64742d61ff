"""The declared checks' shapes, each kind's SQL, and what its one row of answer means. Pure.

Table and column names are interpolated, so every one has passed `identifier` when the file was
loaded (app/audit/table_checks.py); values, times and filters are always query parameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_.]*$")
WEEK = timedelta(days=7)


def identifier(value: Any) -> str:
    # fullmatch: with re.match, `$` would let a trailing newline through.
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise ValueError(f"{value!r} is not an identifier ({IDENTIFIER.pattern})")
    return value


@dataclass(frozen=True)
class WindowKeys:
    column: str  # of the checked table
    from_table: str  # a table with its own window column: its rows of the window give the keys
    from_column: str


@dataclass(frozen=True)
class Table:
    name: str
    window_column: str | None  # an indexed time column; None: a small table, read whole
    window_keys: WindowKeys | None = None


@dataclass(frozen=True)
class Check:
    name: str
    table: str
    kind: str
    args: Mapping[str, Any]  # validated for the kind (table_checks.KINDS)


@dataclass(frozen=True)
class TableCheckResult:
    check_name: str
    table_name: str
    kind: str
    passed: bool
    failing: int
    detail: str


@dataclass(frozen=True)
class Declarations:
    window_hours: float
    settle_seconds: float
    statement_timeout_ms: int
    tables: Mapping[str, Table]
    checks: tuple[Check, ...]


class Params:
    """Numbers each parameter as it is added, so SQL is built in reading order."""

    def __init__(self) -> None:
        self.values: list[object] = []

    def add(self, value: object) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def row_window(declared: Declarations, at: datetime) -> tuple[datetime, datetime]:
    end = at - timedelta(seconds=declared.settle_seconds)
    return end - timedelta(hours=declared.window_hours), end


def last_complete_hour(at: datetime) -> tuple[datetime, datetime]:
    end = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return end - timedelta(hours=1), end


def rows(check: Check, declared: Declarations, at: datetime, params: Params) -> str:
    """FROM and WHERE of the rows a check reads: its window's, an index range."""
    table, conditions = declared.tables[check.table], []
    if (by := table.window_column) is not None:
        low, high = (params.add(moment) for moment in row_window(declared, at))
        conditions.append(f"c.{by} > {low} AND c.{by} <= {high}")
        if (keys := table.window_keys) is not None:
            key_by = declared.tables[keys.from_table].window_column
            conditions.append(
                f"c.{keys.column} IN (SELECT k.{keys.from_column} FROM {keys.from_table} AS k "
                f"WHERE k.{key_by} > {low} AND k.{key_by} <= {high})"
            )
    conditions += [f"c.{name} = {params.add(value)}" for name, value in check.args.get("where", ())]
    return f"FROM {table.name} AS c WHERE " + (" AND ".join(conditions) or "true")


def build_query(check: Check, declared: Declarations, at: datetime) -> tuple[str, list[object]]:
    params, args, name = Params(), check.args, declared.tables[check.table].name
    if check.kind == "freshness":
        by = declared.tables[check.table].window_column or args["column"]
        high = params.add(at)
        # Without an index of its own, the column is read over a range of the window column.
        lookback = max(declared.window_hours * 3600, args["max_age_seconds"])
        low = params.add(at - timedelta(seconds=lookback))
        newest = (f"SELECT max(c.{args['column']}) FROM {name} AS c WHERE c.{by} > {low} "
                  f"AND c.{by} <= {high} AND c.{args['column']} <= {high}")  # fmt: skip
        newest_any = f"SELECT max(c.{by}) FROM {name} AS c WHERE c.{by} <= {high}"
        return f"SELECT ({newest}) AS newest, ({newest_any}) AS newest_any", params.values
    if check.kind == "volume":
        start, end = last_complete_hour(at)
        count = "(SELECT count(*) FROM {} AS c WHERE c.{col} >= {} AND c.{col} < {})"
        current = count.format(name, params.add(start), params.add(end), col=args["column"])
        week = count.format(
            name, params.add(start - WEEK), params.add(end - WEEK), col=args["column"]
        )
        return f"SELECT {current} AS current, {week} AS previous", params.values
    where = rows(check, declared, at, params)
    columns = args.get("columns", ())
    key = ", ".join(f"c.{column}" for column in columns)
    present = " AND ".join(f"c.{column} IS NOT NULL" for column in columns)
    if check.kind == "not_null":
        named = ", ".join(f"CASE WHEN bool_or(c.{c} IS NULL) THEN '{c}' END" for c in columns)
        nulls = " OR ".join(f"c.{column} IS NULL" for column in columns)
        sql = (f"SELECT count(*) AS failing, array_remove(ARRAY[{named}], NULL) AS sample "
               f"{where} AND ({nulls})")  # fmt: skip
    elif check.kind == "accepted_values":
        column, values = args["column"], params.add(list(args["values"]))
        sql = (f"SELECT count(*) AS failing, (array_agg(DISTINCT c.{column}::text))[1:5] AS "
               f"sample {where} AND c.{column} IS NOT NULL "
               f"AND c.{column}::text <> ALL({values}::text[])")  # fmt: skip
    elif check.kind == "unique":
        sql = (f"SELECT count(*) AS failing, (array_agg(d.key ORDER BY d.key))[1:5] AS sample FROM "
               f"(SELECT concat_ws(', ', {key}) AS key {where} AND {present} GROUP BY {key} "
               "HAVING count(*) > 1) AS d")  # fmt: skip
    else:  # relationship: rows whose key has no row in the other table, probed by its index
        match = [f"p.{to} = c.{c}" for c, to in zip(columns, args["to_columns"], strict=True)]
        match += [f"p.{column} = {params.add(value)}" for column, value in args.get("to_where", ())]
        sql = (f"SELECT count(*) AS failing, (array_agg(DISTINCT concat_ws(', ', {key})))[1:5] AS "
               f"sample {where} AND {present} AND NOT EXISTS (SELECT 1 FROM {args['to_table']} "
               f"AS p WHERE {' AND '.join(match)})")  # fmt: skip
    return sql, params.values


def read_result(
    check: Check, declared: Declarations, at: datetime, row: Mapping[str, Any]
) -> tuple[bool, int, str]:
    """(passed, failing, detail) from the query's row."""
    args = check.args
    if check.kind == "freshness":
        newest, max_age = row["newest"], args["max_age_seconds"]
        if newest is not None and (at - newest).total_seconds() <= max_age:
            return True, 0, f"newest {args['column']} {newest.isoformat()}"
        if row["newest_any"] is None:
            required = args.get("required", False)
            return not required, int(required), "empty"
        by = declared.tables[check.table].window_column or args["column"]
        return False, 1, (f"stale: no {args['column']} in the last {max_age:g} s; newest {by} "
                          f"{row['newest_any'].isoformat()}")  # fmt: skip
    if check.kind == "volume":
        current, previous = row["current"], row["previous"]
        hour = last_complete_hour(at)[0].strftime("%Y-%m-%d %H:00")
        counts = f"{current} rows in the hour from {hour} UTC, {previous} a week earlier"
        if previous and not current:
            return False, previous, f"no data: {counts}"
        if previous and current < args["min_ratio"] * previous:
            return False, previous - current, f"{counts}: below {args['min_ratio']:g} of it"
        return True, 0, counts
    failing, sample = row["failing"], row["sample"] or []
    what = {
        "not_null": "rows with a null",
        "accepted_values": f"rows whose {args.get('column')} is not an accepted value",
        "unique": "keys found more than once",
        "relationship": f"rows without a match in {args.get('to_table')}",
    }[check.kind]
    example = f" ({', '.join(map(str, sample))})" if failing and sample else ""
    return failing == 0, failing, f"{failing} {what}{example}; {scope(check, declared, at)}"


def scope(check: Check, declared: Declarations, at: datetime) -> str:
    table = declared.tables[check.table]
    if table.window_column is None:
        return "whole table"
    low, high = (
        f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}" for moment in row_window(declared, at)
    )
    keys = f", {table.window_keys.from_table}'s users" if table.window_keys else ""
    return f"{table.window_column} in ({low}, {high}] UTC{keys}"
