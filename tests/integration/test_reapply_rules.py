"""A rules change applied to history (`reapply-rules`), on the real PostgreSQL: facts built by
older rules are rebuilt in place from staging, and their days' rollups follow."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import orjson

from app.consumers.postgres_staging import PostgresStagingSink
from app.consumers.records import SourceRecord, decode_event
from app.db.postgres import PostgresPool
from app.model.reapply import reapply_to_history
from jobs.model_store import fact_rows, insert_fact_rows
from jobs.pandas.events_frame import staged_frame
from jobs.pandas.fallback import staged_chunks
from jobs.pandas.reapply import REBUILT, reapply_rules
from jobs.pandas.transforms import build_facts
from jobs.rules import load_rules
from jobs.sentiment import read_comment
from tests.event_factory import new_event
from tests.support import REPO_ROOT

RULES = load_rules()
# Older rules that read every comment as neutral, with no emotion.
OLD_RULES = dataclasses.replace(
    RULES,
    version="0:older",
    sentiment=dataclasses.replace(
        RULES.sentiment, positive_at=9.0, negative_at=-9.0, emotion_words={}, phrases={}
    ),
)
TEXTS = ("Loved it, so much fun", "Awful and boring, it made me furious", "It is two hours long")
ROLLUP = """
    SELECT positive, negative, neutral, joy, anger, emotion_score_sum FROM rollup_day WHERE day = $1
"""
FROM_FACTS = """
    SELECT count(*) FILTER (WHERE emotion = 'positive') AS positive,
           count(*) FILTER (WHERE emotion = 'negative') AS negative,
           count(*) FILTER (WHERE emotion = 'neutral') AS neutral,
           count(*) FILTER (WHERE primary_emotion = 'joy') AS joy,
           count(*) FILTER (WHERE primary_emotion = 'anger') AS anger,
           coalesce(sum(emotion_score), 0) AS emotion_score_sum
    FROM fact_user_event WHERE event_date = $1 AND is_valid
"""


async def test_facts_of_older_rules_are_rebuilt_and_their_rollups_follow(settings, pg, unique):
    # A moment of the past no other data uses: received then, so valid then.
    moment = datetime(2001, 1, 1, tzinfo=UTC) + timedelta(
        seconds=random.Random(unique).randrange(365 * 86_400)
    )
    user = f"reapply-{unique}"
    events = [
        new_event("comment", user, occurred_at=(moment + timedelta(seconds=i)).isoformat(),
                  payload={"text": text})
        for i, text in enumerate(TEXTS)
    ]  # fmt: skip
    since, until = moment, moment + timedelta(minutes=1)
    pool = PostgresPool(settings.database_url)
    try:
        records = [
            decode_event(SourceRecord("user_comment_log", 0, 10**12 + i, b"k", orjson.dumps(
                {**event, "received_at": event["occurred_at"], "schema_version": 1})))
            for i, event in enumerate(events)
        ]  # fmt: skip
        assert await PostgresStagingSink(pool).write(records) == {}
        async with pool.connection() as connection:
            async for chunk in staged_chunks(connection, since, until, 100):
                facts = build_facts(staged_frame(chunk), OLD_RULES)
                rows = fact_rows(facts, "spark")
                assert await insert_fact_rows(connection, rows, "fact_user_event") == 3
        day = moment.date()
        before = dict(await pg.fetchrow(ROLLUP, day))
        assert (before["neutral"], before["joy"]) == (3, 0)  # counted by the insert trigger

        result = await reapply_to_history(pool, RULES, since, until)
        assert (result.events, result.facts_rewritten, result.days) == (3, 3, {day})
        rows = await pg.fetch(
            "SELECT payload->>'text' AS text, emotion, emotion_score, primary_emotion, "
            "rules_version, source_flag FROM fact_user_event f "
            "JOIN stg_user_logs s USING (event_id) WHERE f.user_id = $1",
            user,
        )
        for row in rows:
            expected = read_comment(row["text"], RULES.sentiment)
            assert (row["emotion"], row["emotion_score"], row["primary_emotion"]) == (
                expected.label, expected.score, expected.primary_emotion,
            )  # fmt: skip
            assert (row["rules_version"], row["source_flag"]) == (RULES.version, "spark")
        assert {row["emotion"] for row in rows} == {"positive", "negative", "neutral"}
        after = dict(await pg.fetchrow(ROLLUP, day))
        assert after == dict(await pg.fetchrow(FROM_FACTS, day)) != before
        assert (after["joy"], after["anger"]) == (1, 1)

        again = await reapply_to_history(pool, RULES, since, until)
        assert (again.events, again.facts_rewritten, again.days) == (3, 0, set())
        # Chunk by chunk inside one transaction, each UPDATE goes over its own chunk only.
        async with pool.connection() as connection, connection.transaction():
            await reapply_rules(connection, RULES, since, until, chunk_size=1)
            assert await connection.fetchval(f"SELECT count(*) FROM {REBUILT}") == 0

        # The command's dry run counts the range and writes nothing.
        await pg.execute(
            "UPDATE fact_user_event SET rules_version = '0:older' WHERE user_id = $1", user
        )
        dry = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "app.jobs", "reapply-rules", "--dry-run",
             "--since", since.isoformat(), "--until", until.isoformat()],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert dry.returncode == 0, dry.stderr
        assert "3 staged events" in dry.stdout
        versions = await pg.fetch(
            "SELECT DISTINCT rules_version FROM fact_user_event WHERE user_id = $1", user
        )
        assert [row["rules_version"] for row in versions] == ["0:older"]
    finally:
        await pool.close()
