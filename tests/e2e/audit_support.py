"""Running the audit from a test: its passes over chosen windows, and what they found of the
test's own events (the stores are shared by the whole suite, the windows too)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta

import httpx

from app.audit.accounts import Finding
from app.audit.reconciler import MINUTE, floor_minute, minutes, reconcile
from app.config import Settings
from app.db.postgres import PostgresPool
from tests.e2e.model_support import job_command, job_env
from tests.support import REPO_ROOT


def windows_since(started: datetime) -> list[datetime]:
    return minutes(floor_minute(started), floor_minute(datetime.now(UTC)) + MINUTE)


async def audit_findings(
    postgres: PostgresPool,
    settings: Settings,
    started: datetime,
    ids: Iterable[str],
    stages: Iterable[str] | None = None,
) -> list[Finding]:
    """A reconciler pass over the minutes since `started`, its findings about these events
    (at these stages, or all). The minutes are shared with the rest of the suite, whose
    leftovers may be named too: every id is kept, so none of these is cut from a sample."""
    wanted = set(ids)
    every_id = settings.model_copy(update={"audit_sample_ids": 1000})
    checks = await reconcile(postgres, every_id, windows=windows_since(started))
    return [
        finding
        for check in checks
        for finding in check.findings
        if wanted.intersection(finding.sample_ids) and (stages is None or finding.stage in stages)
    ]


async def until(condition: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, f"not within {seconds:g} s: {what}"
        await asyncio.sleep(0.5)


async def post_events(base_url: str, events: list[dict]) -> list[str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        response = await client.post("/events", json=events)
    assert response.status_code == 202, response.text
    return [item["event_id"] for item in response.json()["accepted"]]


def audit_command(started: datetime) -> subprocess.CompletedProcess[str]:
    """`python -m app.jobs audit` over the minutes since then, as an operator runs it."""
    until = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    return subprocess.run(
        job_command("audit", "--since", started.isoformat(), "--until", until),
        cwd=REPO_ROOT, env=job_env(AUDIT_SAMPLE_IDS="1000"), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def kinds(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(finding.stage, finding.kind) for finding in findings}


def named(findings: list[Finding], ours: Iterable[str]) -> dict[tuple[str, str], set[str]]:
    """Which of these events each finding names, by stage and kind."""
    wanted = set(ours)
    return {(f.stage, f.kind): wanted.intersection(f.sample_ids) for f in findings}
