"""Table checks (app/audit/table_checks.json): each kind fails on rows that break it, with the
right count, the others pass, and a fix makes it pass again; results land in audit.table_checks
and the gauge. Every run is as of a moment in 1996 that no other test uses, so the windows hold
only this test's rows (dim_movie, read whole, is the stack's own). Plus the declarations'
validation and SQL, without a database."""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from app.audit.table_check_sql import build_query, read_result
from app.audit.table_checks import (
    TableCheckError,
    TableCheckResult,
    load_declarations,
    parse_declarations,
    run_table_checks,
)
from app.config import Settings
from app.db.postgres import PostgresPool
from tests.integration.fact_support import add_fact
from tests.support import partitions_for_days

DECLARED = load_declarations()


def a_moment(unique: str) -> datetime:
    """Half past an hour of 1996 (and its week before) that only this test writes into."""
    hours = random.Random(unique).randrange(24 * 350)
    return datetime(1996, 1, 8, tzinfo=UTC) + timedelta(hours=hours, minutes=30)


def failures(results: list[TableCheckResult]) -> dict[str, int]:
    return {result.check_name: result.failing for result in results if not result.passed}


def by_name(results: list[TableCheckResult]) -> dict[str, TableCheckResult]:
    return {result.check_name: result for result in results}


def gauge(check: str) -> float | None:
    return REGISTRY.get_sample_value("audit_table_check_failures", {"check": check})


def document(**changes: Any) -> dict[str, Any]:
    """A small valid declaration file, with `changes` to its first check."""
    check = {"name": "t.fresh", "table": "t", "kind": "freshness", "column": "at",
             "max_age_seconds": 60, **changes}  # fmt: skip
    return {"window_hours": 2, "settle_seconds": 0, "statement_timeout_ms": 1000,
            "tables": {"t": {"window_column": "at"}, "s": {"window_column": "at",
                       "window_keys": {"column": "u", "from_table": "t", "from_column": "u"}}},
            "checks": [{k: v for k, v in check.items() if v is not None}]}  # fmt: skip


# --- The declarations and their SQL, without a database -------------------------------------


def test_the_declared_checks_load_and_only_dim_movie_is_read_whole() -> None:
    kinds = {check.name: check.kind for check in DECLARED.checks}
    assert kinds["stg_user_logs.volume"] == "volume"
    assert kinds["dim_session.start_in_facts"] == "relationship"
    assert {check.table for check in DECLARED.checks} == set(DECLARED.tables)
    whole = {name for name, table in DECLARED.tables.items() if table.window_column is None}
    assert whole == {"dim_movie"}
    assert DECLARED.tables["dim_session"].window_keys.from_table == "stg_user_logs"


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        pytest.param({"column": "at; DROP TABLE t"}, "not an identifier", id="injection"),
        pytest.param({"column": "At"}, "not an identifier", id="upper-case"),
        pytest.param({"column": "at\n"}, "not an identifier", id="trailing-newline"),
        pytest.param({"kind": "sometimes"}, "wants a kind", id="unknown-kind"),
        pytest.param({"table": ["t"]}, "a table declared", id="list-for-table"),
        pytest.param({"max_age_seconds": None}, "unknown: ['max_age_seconds']", id="missing"),
        pytest.param({"max_age": 60}, "unknown: ['max_age']", id="unknown-argument"),
        pytest.param({"max_age_seconds": "60"}, "positive number", id="text-for-number"),
        pytest.param({"required": 1}, "true or false", id="number-for-flag"),
        pytest.param({"table": "s"}, "indexed on its own", id="freshness-on-window-keys"),
        pytest.param(
            {"kind": "volume", "max_age_seconds": None, "column": "other", "min_ratio": 0.5},
            "volume counts by",
            id="volume-off-index",
        ),
        pytest.param(
            {
                "kind": "relationship",
                "max_age_seconds": None,
                "column": None,
                "columns": ["u", "at"],
                "to_table": "x",
                "to_columns": ["u"],
            },
            "differ in length",
            id="relationship-pairs",
        ),
        pytest.param(
            {
                "kind": "accepted_values",
                "max_age_seconds": None,
                "values": ["a"],
                "where": {"ok; --": True},
            },
            "not an identifier",
            id="filter-column",
        ),
    ],
)
def test_a_malformed_check_is_refused_by_name(changes: dict[str, Any], refusal: str) -> None:
    parse_declarations(document())  # the unchanged file is valid
    with pytest.raises(TableCheckError, match=rf"check 't\.fresh': .*{re.escape(refusal)}"):
        parse_declarations(document(**changes))


def test_a_malformed_table_is_refused_by_name() -> None:
    raw = document()
    raw["tables"]["t"] = {"window_column": "at) OR (true"}
    with pytest.raises(TableCheckError, match=r"table 't': .*not an identifier"):
        parse_declarations(raw)
    raw["tables"]["t"] = {}
    with pytest.raises(TableCheckError, match=r"table 't': wants window_column"):
        parse_declarations(raw)


def test_row_checks_read_an_index_range_and_take_values_as_parameters() -> None:
    at = datetime(2030, 5, 6, 12, 30, tzinfo=UTC)
    checks = {check.name: check for check in DECLARED.checks}
    sql, params = build_query(checks["stg_user_logs.event_type_accepted"], DECLARED, at)
    assert "FROM stg_user_logs AS c WHERE c.received_at > $1 AND c.received_at <= $2" in sql
    assert "<> ALL($3::text[])" in sql and "watch" not in sql
    end = at - timedelta(seconds=DECLARED.settle_seconds)
    assert params == [end - timedelta(hours=DECLARED.window_hours), end,
                      ["watch", "click", "comment"]]  # fmt: skip
    sql, params = build_query(checks["dim_session.start_in_facts"], DECLARED, at)
    assert ("c.user_id IN (SELECT k.user_id FROM stg_user_logs AS k WHERE k.received_at > $1 "
            "AND k.received_at <= $2)") in sql  # fmt: skip
    assert "p.user_id = c.user_id AND p.occurred_at = c.session_start AND p.is_valid = $3" in sql
    assert params[2] is True
    sql, params = build_query(checks["dim_movie.title_not_null"], DECLARED, at)
    assert sql.endswith("FROM dim_movie AS c WHERE true AND (c.title IS NULL)") and params == []
    _sql, params = build_query(checks["stg_user_logs.volume"], DECLARED, at)
    hour = datetime(2030, 5, 6, 11, tzinfo=UTC)
    week = timedelta(days=7)
    assert params == [
        hour,
        hour + timedelta(hours=1),
        hour - week,
        hour - week + timedelta(hours=1),
    ]


@pytest.mark.parametrize(
    ("current", "previous", "passed", "failing", "detail"),
    [
        (0, 0, True, 0, "0 rows"),
        (0, 4, False, 4, "no data: "),
        (1, 4, False, 3, "1 rows"),
        (2, 4, True, 0, "2 rows"),
        (5, 0, True, 0, "5 rows"),
    ],
)
def test_volume_reads_the_hour_against_a_week_before(
    current: int, previous: int, passed: bool, failing: int, detail: str
) -> None:
    check = next(check for check in DECLARED.checks if check.kind == "volume")
    at = datetime(2030, 5, 6, 12, 30, tzinfo=UTC)
    outcome = read_result(check, DECLARED, at, {"current": current, "previous": previous})
    assert outcome[:2] == (passed, failing) and outcome[2].startswith(detail)


async def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await run_table_checks(PostgresPool("postgresql://nowhere.invalid/x"), datetime(2030, 1, 1))


# --- Against the local stack's PostgreSQL ----------------------------------------------------


@pytest.fixture
async def postgres(settings: Settings) -> AsyncIterator[PostgresPool]:
    pool = PostgresPool(settings.database_url)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def kept_results(pg: asyncpg.Connection) -> AsyncIterator[None]:
    """audit.table_checks as it was: a run of the tests' moments would overwrite the stack's."""
    before = await pg.fetch("SELECT * FROM audit.table_checks")
    try:
        yield
    finally:
        async with pg.transaction():
            await pg.execute("DELETE FROM audit.table_checks")
            await pg.executemany(
                "INSERT INTO audit.table_checks VALUES ($1, $2, $3, $4, $5, $6, $7)",
                [tuple(row.values()) for row in before],
            )


async def indexed_columns(pg: asyncpg.Connection, table: str) -> list[list[str]]:
    rows = await pg.fetch(
        "SELECT array_agg(a.attname ORDER BY k.n) AS columns FROM pg_index i "
        "CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = $1::regclass GROUP BY i.indexrelid",
        table,
    )
    return [list(row["columns"]) for row in rows]


async def test_every_window_and_relationship_is_served_by_an_index(pg: asyncpg.Connection) -> None:
    for name, table in DECLARED.tables.items():
        if table.window_column is None:
            continue
        indexes = await indexed_columns(pg, name)
        keys = table.window_keys
        leading = [keys.column, table.window_column] if keys else [table.window_column]
        assert any(index[: len(leading)] == leading for index in indexes), (name, indexes)
        if keys:
            by = DECLARED.tables[keys.from_table].window_column
            assert [by] in [i[:1] for i in await indexed_columns(pg, keys.from_table)]
    for check in DECLARED.checks:
        if check.kind == "relationship":
            wanted = set(check.args["to_columns"])
            indexes = await indexed_columns(pg, check.args["to_table"])
            assert any(set(index[: len(wanted)]) == wanted for index in indexes), check.name


async def add_staged(pg: asyncpg.Connection, user: str, received_at: datetime) -> None:
    await partitions_for_days(pg, received_at, received_at)
    await pg.execute(
        "INSERT INTO stg_user_logs (event_id, event_type, user_id, occurred_at, received_at, "
        "schema_version, kafka_topic, kafka_partition, kafka_offset) "
        "VALUES ($1, 'click', $2, $3, $3, 1, 'user_click_log', 0, 0)",
        uuid.uuid4(), user, received_at,
    )  # fmt: skip


async def add_session(pg: asyncpg.Connection, user: str, start: datetime) -> None:
    await pg.execute(
        "INSERT INTO dim_session (session_id, user_id, session_start, session_end, "
        "duration_seconds, event_count, watch_count, click_count, comment_count, "
        "movies_watched, watch_seconds, rules_version, source_flag) "
        "VALUES ($1, $2, $3, $3, 0, 1, 0, 1, 0, 0, 0, 'test', 'spark')",
        f"{user}:{int(start.timestamp() * 1000)}", user, start,
    )  # fmt: skip


async def test_each_kind_fails_on_broken_rows_and_passes_once_fixed(
    pg: asyncpg.Connection, postgres: PostgresPool, kept_results: None, unique: str
) -> None:
    at = a_moment(unique)
    then = at - timedelta(minutes=45)  # in the row window and in the last complete hour
    ok, lone = f"checks-{unique}", f"checks-lone-{unique}"
    movie = 9_000_000_000 + random.Random(unique).randrange(10**9)  # missing: movie + 1
    try:
        await pg.execute("INSERT INTO dim_movie (movie_id, title) VALUES ($1, 'Checked')", movie)
        for user in (ok, lone):
            await add_staged(pg, user, then)
        await add_fact(pg, "fact_user_event", ok, then, source_flag="spark", movie_id=movie,
                       processed_at=then)  # fmt: skip
        await add_session(pg, ok, then)
        assert failures(await run_table_checks(postgres, at)) == {}

        # Rows the schema allows but the checks do not.
        bogus = await add_fact(pg, "fact_user_event", ok, then + timedelta(seconds=1),
                               source_flag="bogus", processed_at=then)  # fmt: skip
        liked = await add_fact(pg, "fact_user_event", ok, then + timedelta(seconds=2),
                               source_flag="spark", processed_at=then)  # fmt: skip
        await pg.execute(
            "UPDATE fact_user_event SET event_type = 'like' WHERE event_id = $1", liked
        )
        await add_fact(pg, "fact_user_event", ok, then + timedelta(seconds=3), source_flag="spark",
                       movie_id=movie + 1, processed_at=then)  # fmt: skip
        await add_fact(pg, "fact_user_event_fallback", ok, then, source_flag="spark")
        await add_session(pg, lone, then)  # staged, but without a fact
        await pg.execute(
            "INSERT INTO dim_movie (movie_id, title, source_flag) VALUES ($1, 'Odd', 'bogus')",
            movie + 2,
        )
        results = await run_table_checks(postgres, at)
        assert failures(results) == {
            "fact_user_event.source_flag_accepted": 1,
            "fact_user_event.event_type_accepted": 1,
            "fact_user_event.movie_in_dim_movie": 1,
            "fact_user_event_fallback.source_flag_accepted": 1,
            "dim_session.start_in_facts": 1,
            "dim_movie.source_flag_accepted": 1,
        }
        named = by_name(results)
        assert "(bogus)" in named["fact_user_event.source_flag_accepted"].detail
        assert f"({movie + 1})" in named["fact_user_event.movie_in_dim_movie"].detail
        assert lone in named["dim_session.start_in_facts"].detail
        assert named["dim_movie.source_flag_accepted"].detail.endswith("; whole table")
        stored = await pg.fetch("SELECT check_name, passed, failing FROM audit.table_checks")
        assert {row["check_name"]: (row["passed"], row["failing"]) for row in stored} == {
            result.check_name: (result.passed, result.failing) for result in results
        }
        assert gauge("dim_session.start_in_facts") == 1 and gauge("dim_session.not_null") == 0

        # Fixed.
        await pg.execute(
            "UPDATE fact_user_event SET source_flag = 'spark' WHERE event_id = $1", bogus
        )
        await pg.execute(
            "UPDATE fact_user_event SET event_type = 'click' WHERE event_id = $1", liked
        )
        await pg.execute("INSERT INTO dim_movie (movie_id, title) VALUES ($1, 'Late')", movie + 1)
        await pg.execute(
            "UPDATE fact_user_event_fallback SET source_flag = 'pandas' WHERE user_id = $1", ok
        )
        await add_fact(pg, "fact_user_event", lone, then, source_flag="spark", processed_at=then)
        await pg.execute(
            "UPDATE dim_movie SET source_flag = 'events' WHERE movie_id = $1", movie + 2
        )
        results = await run_table_checks(postgres, at)
        assert failures(results) == {} and len(results) == len(DECLARED.checks)
        assert gauge("dim_session.start_in_facts") == 0
    finally:
        users = [ok, lone]
        for table in (
            "fact_user_event",
            "fact_user_event_fallback",
            "dim_session",
            "stg_user_logs",
        ):
            await pg.execute(f"DELETE FROM {table} WHERE user_id = ANY($1::text[])", users)
        await pg.execute("DELETE FROM dim_movie WHERE movie_id BETWEEN $1 AND $1 + 2", movie)
        await pg.execute("SELECT rebuild_rollups($1, $1)", then.date())  # the facts' day, as it was


async def test_volume_fails_on_no_data_and_on_a_drop(
    pg: asyncpg.Connection, postgres: PostgresPool, kept_results: None, unique: str
) -> None:
    at = a_moment(unique)
    user = f"volume-{unique}"
    try:
        for n in range(4):  # the same hour a week earlier
            await add_staged(pg, user, at - timedelta(days=7, minutes=45 - n))
        results = by_name(await run_table_checks(postgres, at))
        assert failures(list(results.values())) == {
            "stg_user_logs.volume": 4, "stg_user_logs.fresh": 1  # and nothing staged since
        }  # fmt: skip
        assert results["stg_user_logs.volume"].detail.startswith("no data: 0 rows")
        await add_staged(pg, user, at - timedelta(minutes=45))
        results = by_name(await run_table_checks(postgres, at))
        assert failures(list(results.values())) == {"stg_user_logs.volume": 3}
        assert "1 rows in the hour" in results["stg_user_logs.volume"].detail
        await add_staged(pg, user, at - timedelta(minutes=40))  # half the week-earlier hour
        assert failures(await run_table_checks(postgres, at)) == {}
    finally:
        await pg.execute("DELETE FROM stg_user_logs WHERE user_id = $1", user)


async def test_unique_errors_and_timeouts_on_a_scratch_table(
    pg: asyncpg.Connection, postgres: PostgresPool, settings: Settings, kept_results: None,
    unique: str,
) -> None:  # fmt: skip
    at, scratch, missing = a_moment(unique), f"table_checks_{unique}", f"table_checks_no_{unique}"
    declared = parse_declarations({
        "window_hours": 2, "settle_seconds": 0, "statement_timeout_ms": 300,
        "tables": {scratch: {"window_column": "at"}, missing: {"window_column": None}},
        "checks": [
            {"name": "scratch.unique", "table": scratch, "kind": "unique", "columns": ["id"]},
            {"name": "scratch.fresh", "table": scratch, "kind": "freshness", "column": "at",
             "max_age_seconds": 600, "required": True},
            {"name": "missing.not_null", "table": missing, "kind": "not_null", "columns": ["id"]},
        ],
    })  # fmt: skip
    await pg.execute(f"CREATE TABLE {scratch} (id integer, at timestamptz NOT NULL)")
    await pg.execute(f"CREATE INDEX ON {scratch} (at)")
    try:
        results = by_name(await run_table_checks(postgres, at, declared))
        assert failures(list(results.values())) == {"scratch.fresh": 1, "missing.not_null": 1}
        assert results["scratch.fresh"].detail == "empty"  # required: an empty table fails
        assert results["missing.not_null"].detail.startswith("error: UndefinedTableError")

        rows = [(1, 5), (1, 6), (2, 5), (2, 6), (2, 7), (3, 5), (3, 200), (None, 5), (None, 6)]
        await pg.executemany(f"INSERT INTO {scratch} VALUES ($1, $2)",
                             [(key, at - timedelta(minutes=m)) for key, m in rows])  # fmt: skip
        results = by_name(await run_table_checks(postgres, at, declared))
        # 3's second copy is older than the window; nulls are not_null's business.
        assert failures(list(results.values())) == {"scratch.unique": 2, "missing.not_null": 1}
        assert results["scratch.unique"].detail.startswith("2 keys found more than once (1, 2)")

        locker = await asyncpg.connect(settings.database_url)
        try:
            async with locker.transaction():
                await locker.execute(f"LOCK TABLE {scratch} IN ACCESS EXCLUSIVE MODE")
                started = time.monotonic()
                # Without statement timeouts the checks would wait for the lock: fail, not hang.
                run = run_table_checks(postgres, at, declared)
                results = by_name(await asyncio.wait_for(run, timeout=10))
                elapsed = time.monotonic() - started
        finally:
            await locker.close()
        assert set(failures(list(results.values()))) == set(results)
        assert "statement timeout" in results["scratch.unique"].detail
        assert "statement timeout" in results["scratch.fresh"].detail
        assert results["missing.not_null"].detail.startswith("error: UndefinedTableError")
        assert elapsed < 5  # each waited its 300 ms, not for the lock

        await pg.execute(f"DELETE FROM {scratch} WHERE id IN (1, 2)")
        results = by_name(await run_table_checks(postgres, at, declared))
        assert failures(list(results.values())) == {"missing.not_null": 1}
    finally:
        await pg.execute(f"DROP TABLE {scratch}")
