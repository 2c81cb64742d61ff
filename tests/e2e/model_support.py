"""Helpers for the model tests: events in Kafka for users of one test, Spark and the jobs as
operators run them, and the model rows read back."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

import asyncpg

from app.config import USER_TOPICS, Settings
from app.producers.kafka_admin import spark_offsets_at_end
from tests.support import REPO_ROOT

FACT_COMPARED = (
    "event_id::text, event_type, user_id, client_session_id, movie_id, occurred_at, "
    "received_at, event_date, event_hour, watch_action, position_seconds, duration_seconds, "
    "watch_seconds, completion_ratio, is_completed, click_element, click_target, page, device, "
    "locale, rating, rating_bucket, emotion, emotion_score, is_valid, invalid_reason, "
    "rules_version"
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
