"""`python -m app.jobs dead-letters` on a running pipeline: a redrive before the fix sends the
records once and they come back as new dead letters, never in a loop; after the fix they land
exactly once, and a redrive sends nothing twice."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from app.bootstrap import build_resources
from app.consumers.dead_letter import DeadLetter
from app.ops.dead_letters import dead_letters
from tests.e2e.model_support import run_job
from tests.e2e.stores import wait_until_landed
from tests.event_factory import new_event


async def refused_by_staging(settings, reason: str, expected: int) -> int:
    return len(await letters_refused_by_staging(settings, reason, expected))


async def letters_refused_by_staging(settings, reason: str, expected: int) -> list[DeadLetter]:
    """The dead letters whose reason names the test's constraint, once there are `expected`
    (or after 60 s)."""
    async with build_resources(settings) as resources, asyncio.timeout(90):
        for _ in range(60):
            letters = await dead_letters(resources, reason)
            if len(letters) >= expected:
                break
            await asyncio.sleep(1)
    assert {letter.group for letter in letters} <= {"postgres-staging"}
    return letters


async def test_redrive_sends_each_dead_letter_once_and_after_the_fix_the_events_land(
    settings, service, pg
):
    user = f"redrive-{uuid.uuid4().hex[:8]}"
    constraint = f"refuse_{user.replace('-', '_')}"  # the bug: staging refuses this user
    await pg.execute(
        f"ALTER TABLE stg_user_logs ADD CONSTRAINT {constraint} CHECK (user_id <> '{user}') "
        "NOT VALID"
    )
    try:
        events = [new_event("watch", user), new_event("click", user)]
        ids = [event["event_id"] for event in events]
        async with httpx.AsyncClient(base_url=service.base_url) as client:
            assert (await client.post("/events", json=events)).status_code == 202
        first, _ = await letters_refused_by_staging(settings, constraint, 2)
        shown = run_job(
            "dead-letters", "show", str(first.offset), "--partition", str(first.partition)
        ).stdout
        assert "refused by: postgres-staging" in shown and constraint in shown
        assert any(event_id in shown for event_id in ids)

        early = run_job("dead-letters", "redrive", "--reason", constraint).stdout
        assert "2 dead letters not redriven before; sent 2 records" in early
        assert await refused_by_staging(settings, constraint, 4) == 4  # refused again, once
        await asyncio.sleep(3)  # a loop would have sent them again by now
        assert await refused_by_staging(settings, constraint, 0) == 4
    finally:
        await pg.execute(f"ALTER TABLE stg_user_logs DROP CONSTRAINT {constraint}")  # the fix

    fixed = run_job("dead-letters", "redrive", "--reason", constraint).stdout
    assert "2 dead letters not redriven before; sent 2 records" in fixed
    landed = await wait_until_landed(settings, ids, expected_comments=0)
    assert (landed.mongo, landed.staged, landed.staged_distinct) == (2, 2, 2)

    again = run_job("dead-letters", "redrive", "--reason", constraint).stdout
    assert "0 dead letters not redriven before; sent 0 records" in again
    listing = run_job("dead-letters", "list", "--reason", constraint).stdout
    assert listing.startswith("4 dead letters")
    assert "PostgreSQL refused the event  (from user_" in listing
