"""The page at `/` in a headless Chromium, on a running stack: the figures it shows are the
stores' and the API's, and it says so when PostgreSQL is down or there is nothing yet."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from app.config import Settings
from app.model import queries
from tests.browser import Browser
from tests.e2e.model_support import run_job
from tests.e2e.stores import wait_until_landed
from tests.event_factory import new_event
from tests.support import REPO_ROOT, ServiceProcess

ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
MOVIE = 550  # in the sample catalogue
START = {"action": "start", "position_seconds": 0, "duration_seconds": 8340}

TEXT = "return [...arguments].map((id) => document.getElementById(id).textContent);"
CONSUMER_LAG = """
return Object.fromEntries([...document.querySelectorAll("#consumer-lag td[data-group]")]
  .map((cell) => [cell.dataset.group, cell.textContent]));
"""
TOP_MOVIES = """
return [...document.querySelectorAll("#top-movies tr")].map(
  (row) => [...row.querySelectorAll("td")].map((cell) => cell.textContent));
"""
CHART = """
return [...document.querySelectorAll("#emotion-chart rect")].map(
  (bar) => [bar.dataset.day, bar.dataset.kind, Number(bar.dataset.count)]);
"""
EMOTION_MIX = """
return Object.fromEntries([...document.querySelectorAll("#emotion-mix span")]
  .map((item) => [item.dataset.emotion, Number(item.dataset.count)]));
"""
REFRESHED = "return Number(document.body.dataset.refreshed || 0) >= arguments[0];"
NO_FIGURE = "\N{EN DASH}"  # what the page shows for a figure it cannot know
SHOWN = "return !document.getElementById(arguments[0]).hidden;"


def number(text: str) -> int:
    return int(text.replace(",", ""))


async def test_the_page_shows_the_figures_of_the_stores_and_the_api(settings, service, browser):
    run_job("tmdb-sync")
    started = datetime.now(UTC).isoformat()
    user = f"page-{uuid.uuid4().hex[:8]}"
    events = [new_event("watch", user, payload=START) for _ in range(3)] + [
        new_event("comment", user, payload={"text": "Loved it, wonderful!", "rating": 9}),
        new_event("comment", user, payload={"text": "Awful and boring.", "rating": 2}),
        new_event("click", user),
    ]
    async with httpx.AsyncClient(base_url=service.base_url) as client:
        assert (await client.post("/events", json=events)).status_code == 202
    landed = await wait_until_landed(settings, [e["event_id"] for e in events], 2)
    assert landed.staged == len(events)
    until = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()  # past the settle delay
    run_job("fallback", "--since", started, "--until", until)

    browser.navigate(f"{service.ops_url}/")
    browser.wait_until(REFRESHED, 1)
    connection = await asyncpg.connect(settings.database_url)
    try:
        waiting = await queries.count_awaiting_promotion(connection, None, None)
        movies = await connection.fetchval(
            "SELECT count(*) FROM dim_movie WHERE NOT is_placeholder AND NOT is_gone"
        )
        findings = await connection.fetchval(
            "SELECT count(*) FROM audit.findings WHERE closed_at IS NULL"
        )
    finally:
        await connection.close()
    accepted, awaiting, catalogue, mode = browser.execute(
        TEXT, "ingest-accepted", "awaiting-promotion", "catalogue-movies", "fallback-mode"
    )
    assert number(accepted) == len(events)  # the module's own service took only these
    assert number(awaiting) == waiting > 0
    assert number(catalogue) == movies > 0
    assert mode == settings.fallback_mode.value
    [open_findings] = browser.execute(TEXT, "audit-open")
    assert number(open_findings) == findings
    lags = browser.execute(CONSUMER_LAG)
    assert set(lags) == {"mongo-backup", "postgres-staging", "audit-receipts",
                         "movie-mongo-backup", "movie-postgres-staging"}  # fmt: skip
    assert all(number(lag) >= 0 for lag in lags.values())

    run_job("promote", "--since", started)
    today = datetime.now(UTC).date().isoformat()
    async with httpx.AsyncClient(base_url=service.base_url) as client:
        # The first answers after the model moved are the kept ones, refreshed behind them:
        # the page shows the promoted facts from its next refresh but one at the latest.
        await until_promoted(client)
        for _ in range(3):
            refreshes = browser.execute("return Number(document.body.dataset.refreshed);")
            browser.wait_until(REFRESHED, refreshes + 1, timeout=20)
            top = await client.get("/api/top_movies", params={"metric": "views", "limit": 10})
            top = top.json()
            trends = (await client.get("/api/emotion_trends", params={"until": today})).json()
            if page_agrees(browser, top, trends, today):
                break
    shown = browser.execute(TOP_MOVIES)
    assert [(number(row[0]), row[1], number(row[3])) for row in shown] == top_rows(top)
    ours = next(item for item in top["items"] if item["movie_id"] == MOVIE)
    assert ours["views"] >= 3
    bucket = next(b for b in trends["buckets"] if b["start"] == today)
    assert bars_of(browser, today) == {k: bucket[k] for k in ("positive", "negative", "neutral")}
    assert bucket["positive"] >= 1 and bucket["negative"] >= 1
    felt = Counter()
    for each in trends["buckets"]:
        felt.update(each["primary_emotions"])
    assert browser.execute(EMOTION_MIX) == {e: n for e, n in felt.items() if n}
    assert felt["joy"] >= 1  # "Loved it, wonderful!"
    assert not browser.execute(SHOWN, "notice-empty")
    assert not browser.execute(SHOWN, "notice-postgres")
    print(f"pipeline page screenshot: {browser.screenshot(ARTIFACTS / 'pipeline.png')}")


def top_rows(top: dict) -> list[tuple[int, str, int]]:
    return [(item["rank"], item["title"], item["views"]) for item in top["items"]]


def bars_of(browser: Browser, day: str) -> dict[str, int]:
    return {kind: count for bar_day, kind, count in browser.execute(CHART) if bar_day == day}


def page_agrees(browser: Browser, top: dict, trends: dict, today: str) -> bool:
    shown = [(number(row[0]), row[1], number(row[3])) for row in browser.execute(TOP_MOVIES)]
    buckets = [b for b in trends["buckets"] if b["start"] == today]
    kinds = ("positive", "negative", "neutral")
    return (
        shown == top_rows(top)
        and bool(buckets)
        and bars_of(browser, today) == {k: buckets[0][k] for k in kinds}
    )


async def until_promoted(client: httpx.AsyncClient, limit_seconds: float = 20) -> None:
    """Until the API's answers count the promoted facts: our movie's three views."""
    deadline = asyncio.get_running_loop().time() + limit_seconds
    while asyncio.get_running_loop().time() < deadline:
        answer = await client.get("/api/top_movies", params={"metric": "views", "limit": 10})
        views = {item["movie_id"]: item["views"] for item in answer.json()["items"]}
        if views.get(MOVIE, 0) >= 3:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the API never counted the promoted facts")


@contextmanager
def page_on(browser: Browser, database_url: str) -> Iterator[None]:
    """The page of a service on this database, without consumers or scheduler, loaded once."""
    service = ServiceProcess(
        RUN_CONSUMERS="false", RUN_SCHEDULER="false", DATABASE_URL=database_url
    )
    service.start()
    try:
        browser.navigate(f"{service.ops_url}/")
        browser.wait_until(REFRESHED, 1)
        yield
    finally:
        service.stop()


def test_with_postgres_down_the_page_says_so(browser):
    with page_on(browser, "postgresql://movies@127.0.0.1:9/movies"):
        assert browser.execute(SHOWN, "notice-postgres")
        top_note, postgres, awaiting, sync = browser.execute(
            TEXT, "top-movies-note", "dependency-postgres", "awaiting-promotion", "catalogue-sync"
        )
        assert top_note == "the statistics store did not answer"
        assert postgres == "postgres down"
        assert (awaiting, sync) == (NO_FIGURE, "unknown")
        assert not browser.execute(SHOWN, "notice-empty")


@pytest.fixture
async def empty_database(settings: Settings) -> AsyncIterator[str]:
    """A migrated database of its own, with no event, fact or catalogue in it."""
    name = f"empty_{uuid.uuid4().hex[:10]}"
    url = settings.database_url.rsplit("/", 1)[0] + f"/{name}"
    connection = await asyncpg.connect(settings.database_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
        try:
            prestart = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "app.ops.prestart",
                cwd=REPO_ROOT, env={**os.environ, "DATABASE_URL": url},
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, errors = await asyncio.wait_for(prestart.communicate(), 120)
            assert prestart.returncode == 0, errors[-2000:]
            yield url
        finally:
            await connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def test_with_nothing_yet_the_page_says_where_data_comes_from(browser, empty_database):
    with page_on(browser, empty_database):
        assert browser.execute(SHOWN, "notice-empty")
        top, emotions, sync, awaiting = browser.execute(
            TEXT, "top-movies", "emotion-note", "catalogue-sync", "awaiting-promotion"
        )
        assert top == "no views modelled this week yet"
        assert emotions == "no comments modelled in these days yet"
        assert (sync, awaiting) == ("none yet", "0")
        assert not browser.execute(SHOWN, "notice-postgres")
