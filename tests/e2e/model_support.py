"""Helpers for the model tests: events for users of one test, posted as the frontend does,
Spark and the jobs as operators run them, and the model rows read back."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson

from app.config import Settings
from app.producers.kafka_admin import spark_offsets_at_end
from app.topics import USER_TOPICS
from tests.event_factory import new_event
from tests.support import REPO_ROOT

FACT_COMPARED = (
    "event_id::text, event_type, user_id, client_session_id, movie_id, occurred_at, "
    "received_at, event_date, event_hour, watch_action, position_seconds, duration_seconds, "
    "watch_seconds, completion_ratio, is_completed, click_element, click_target, page, device, "
    "locale, rating, rating_bucket, emotion, emotion_score, primary_emotion, is_valid, "
    "invalid_reason, rules_version"
)
SESSION_COMPARED = (
    "session_id, user_id, session_start, session_end, duration_seconds, event_count, "
    "watch_count, click_count, comment_count, movies_watched, watch_seconds, rules_version"
)


async def starting_offsets_now(settings: Settings) -> str:
    return await spark_offsets_at_end(settings.kafka_bootstrap_servers, list(USER_TOPICS.values()))


def job_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "app.jobs", *args]


def job_env(**overrides: str) -> dict[str, str]:
    return {**os.environ, **overrides}


def spawn_job(*args: str, **env: str) -> subprocess.Popen[bytes]:
    """A job in the background, e.g. the Spark stream, to be stopped or killed by the test."""
    return subprocess.Popen(
        job_command(*args),
        cwd=REPO_ROOT,
        env=job_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_job(*args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        job_command(*args),
        cwd=REPO_ROOT,
        env=job_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


async def model_rows(
    connection: asyncpg.Connection, table: str, columns: str, users: list[str]
) -> list[tuple[Any, ...]]:
    order = "event_id" if "event_id" in columns else "session_id"
    rows = await connection.fetch(
        f"SELECT {columns} FROM {table} WHERE user_id = ANY($1::text[]) ORDER BY {order}", users
    )
    return [tuple(row) for row in rows]


def fresh_users(count: int) -> list[str]:
    prefix = uuid.uuid4().hex[:8]
    return [f"model-{prefix}-{n}" for n in range(count)]


def event_mix(users: list[str]) -> list[dict]:
    """Sessions split by gaps, late and duplicate events, invalid ones, comments with feeling."""
    now = datetime.now(UTC)
    events = []
    for n, user in enumerate(users):
        start = now - timedelta(hours=3, minutes=n)
        for step in range(12):
            gap = timedelta(minutes=50) if step == 6 else timedelta(minutes=2)
            start += gap
            kind = ("watch", "watch", "click", "comment")[step % 4]
            event = new_event(kind, user, occurred_at=start.isoformat())
            if kind == "watch":
                event["payload"] = {"action": "progress", "position_seconds": 60.0 * step,
                                    "duration_seconds": 5400.0}  # fmt: skip
            events.append(event)
        late = new_event(
            "watch", user, occurred_at=(now - timedelta(hours=2, minutes=58)).isoformat()
        )
        beyond = new_event("watch", user, payload={"action": "pause", "position_seconds": 9000.0,
                                                   "duration_seconds": 5400.0})  # fmt: skip
        negated = new_event(
            "comment", user, payload={"text": "Not boring at all ❤️ 🍿", "rating": 7.0}
        )
        events += [late, beyond, negated, dict(events[-3])]  # the last one is a duplicate
    return events


async def post_all(base_url: str, events: list[dict]) -> set[str]:
    accepted: set[str] = set()
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for start in range(0, len(events), 25):
            response = await client.post(
                "/events", content=orjson.dumps(events[start : start + 25]),
                headers={"content-type": "application/json"},
            )  # fmt: skip
            assert response.status_code == 202, response.text
            accepted |= {item["event_id"] for item in response.json()["accepted"]}
    return accepted
