"""Re-running today's rules over facts already built: the staged events of a received_at range
are rebuilt with pandas (which the parity tests hold to Spark's rows) and every fact of theirs
built by other rules is rewritten in place, keeping its source_flag."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import asyncpg

from jobs.frames import frame_records
from jobs.model_columns import FACT_COLUMNS
from jobs.pandas.events_frame import staged_frame
from jobs.pandas.fallback import Progress, count_staged, staged_chunks
from jobs.pandas.transforms import build_facts
from jobs.rules import Rules

FACTS = "fact_user_event"
REBUILT = "rebuilt_facts"
DERIVED = [column for column in FACT_COLUMNS if column != "event_id"]
UPDATE_FACTS = f"""
    UPDATE {FACTS} f
    SET ({", ".join(DERIVED)}) = ({", ".join(f"r.{c}" for c in DERIVED)}), processed_at = now()
    FROM {REBUILT} r
    WHERE f.event_id = r.event_id AND f.rules_version IS DISTINCT FROM r.rules_version
    RETURNING f.event_date
"""
CREATE_REBUILT = f"""
    CREATE TEMP TABLE IF NOT EXISTS {REBUILT} ON COMMIT DELETE ROWS AS
    SELECT {", ".join(FACT_COLUMNS)} FROM {FACTS} WITH NO DATA
"""


@dataclass
class ReapplyResult:
    events: int = 0
    facts_rewritten: int = 0
    days: set[date] = field(default_factory=set)  # whose rollups must be rebuilt


async def reapply_rules(
    connection: asyncpg.Connection,
    rules: Rules,
    since: datetime,
    until: datetime,
    chunk_size: int = 50_000,
    progress: Progress = lambda done, total: None,
) -> ReapplyResult:
    total, result = await count_staged(connection, since, until), ReapplyResult()
    async for chunk in staged_chunks(connection, since, until, chunk_size):
        facts = build_facts(staged_frame(chunk), rules)
        async with connection.transaction():
            await connection.execute(CREATE_REBUILT)
            await connection.copy_records_to_table(
                REBUILT, records=frame_records(facts, FACT_COLUMNS), columns=FACT_COLUMNS
            )
            rewritten = await connection.fetch(UPDATE_FACTS)
            # Inside the cursor's transaction ON COMMIT never comes between chunks: without
            # this, each UPDATE would go over every earlier chunk's rows again.
            await connection.execute(f"TRUNCATE {REBUILT}")
        result.facts_rewritten += len(rewritten)
        result.days.update(row["event_date"] for row in rewritten)
        result.events += len(chunk)
        progress(result.events, total)
    return result
