"""`python -m app.jobs trace EVENT_ID` on a running pipeline, for an event in each state:
staged, in the fallback, promoted into the model, dead-lettered, and unknown."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from app.config import Settings
from app.ingest.events import EventLimits, validate_event
from app.topics import USER_TOPICS
from jobs.rules import load_rules
from tests.e2e.model_support import job_command, job_env, run_job
from tests.e2e.stores import wait_until_landed
from tests.event_factory import new_event
from tests.support import REPO_ROOT


def trace(event_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        job_command("trace", event_id), cwd=REPO_ROOT, env=job_env(),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def line_of(output: str, store: str) -> str:
    """The line about a store, without its indent."""
    return next(line.strip() for line in output.splitlines() if line.strip().startswith(store))


async def test_an_event_is_traced_from_staging_through_the_fallback_into_the_model(
    settings, service
):
    started = datetime.now(UTC).isoformat()
    user = f"trace-{uuid.uuid4().hex[:8]}"
    event = new_event("comment", user, payload={"text": "A fine film.", "rating": 8})
    async with httpx.AsyncClient(base_url=service.base_url) as client:
        assert (await client.post("/events", json=event)).status_code == 202
    await wait_until_landed(settings, [event["event_id"]], 1)

    staged = trace(event["event_id"])
    assert staged.returncode == 0, staged.stderr
    assert line_of(staged.stdout, "kafka:").startswith(f"kafka:           {USER_TOPICS['comment']}")
    assert "backed up" in line_of(staged.stdout, "raw.user_logs:")
    assert f"comment of {user}" in line_of(staged.stdout, "stg_user_logs:")
    assert "stg_comments" in line_of(staged.stdout, "stg_user_logs:")
    assert line_of(staged.stdout, "fact_user_event:").endswith("not modelled")
    assert line_of(staged.stdout, "fallback:").endswith("not modelled")
    assert line_of(staged.stdout, "dead letters:").endswith("none")

    until = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    run_job("fallback", "--since", started, "--until", until)
    in_fallback = line_of(trace(event["event_id"]).stdout, "fallback:")
    rules = load_rules().version
    assert f"valid, by pandas under rules {rules}, session " in in_fallback

    run_job("promote", "--since", started)
    promoted = trace(event["event_id"]).stdout
    assert f"valid, by pandas under rules {rules}, session " in line_of(
        promoted, "fact_user_event:"
    )


async def test_a_dead_lettered_event_names_each_group_that_refused_it_and_why(settings, service):
    event_id = await send_unstorable_comment(settings)
    deadline = time.monotonic() + 60
    while True:
        traced = await asyncio.to_thread(trace, event_id)
        letters = [line for line in traced.stdout.splitlines() if "dead letter:" in line]
        if len(letters) >= 2 or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    assert {"mongo-backup", "postgres-staging"} <= {line.split()[2] for line in letters}
    assert all(f"{USER_TOPICS['comment']}/" in line and "rating" in line for line in letters)
    assert line_of(traced.stdout, "stg_user_logs:").endswith("not staged")


def test_an_unknown_event_is_nowhere_and_says_so():
    traced = trace(str(uuid.uuid4()))
    assert traced.returncode == 1
    assert "not backed up" in traced.stdout and "not staged" in traced.stdout
    assert line_of(traced.stdout, "dead letters:").endswith("none")


async def send_unstorable_comment(settings: Settings) -> str:
    """A comment in the stored form, written past the API, with a rating no store can hold."""
    now = datetime.now(UTC)
    raw = new_event("comment", f"trace-poison-{uuid.uuid4().hex[:6]}")
    stored = validate_event(raw, now, "trace", EventLimits.from_rules(load_rules()))
    stored["payload"]["rating"] = "high"
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            USER_TOPICS["comment"], orjson.dumps(stored), key=raw["user_id"].encode()
        )
    finally:
        await producer.stop()
    return raw["event_id"]
