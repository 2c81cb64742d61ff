"""The browser tracker in a headless Chromium, on a page of another origin: batches, beacons
when the page is left, retries through 503s with the same ids; and the demo page. Every event
lands once in MongoDB and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from urllib.parse import urlencode

import asyncpg
import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from app.config import Settings
from tests.e2e.stores import Landed, count_landed, wait_until_landed
from tests.event_factory import new_event
from tests.loopback import LoopbackServer, ServedTwin
from tests.support import REPO_ROOT, ServiceProcess

ARTIFACTS = REPO_ROOT / "tests" / "artifacts"

# A page of another site that embeds the tracker. Its query names the endpoint, the user and
# the batch size; nothing leaves by the timer, so what is not a full batch stays queued.
TRACKED_PAGE = """<!doctype html>
<meta charset="utf-8">
<title>Another site</title>
<script>
  const params = new URLSearchParams(location.search);
  // As on a page served over plain HTTP, where browsers offer no crypto.randomUUID.
  if (params.has("fallback-uuid")) delete Crypto.prototype.randomUUID;
</script>
<script src="{service}/tracker.js"></script>
<script>
  window.statuses = {{}};
  movieEvents.init({{
    endpoint: params.get("endpoint"),
    userId: params.get("user"),
    batchSize: Number(params.get("batch")),
    flushDelayMs: 600000,
    maxAttempts: Number(params.get("attempts") || 12),
    retryBaseMs: Number(params.get("retry-ms") || 500),
    onStatus: (id, status) => {{ statuses[id] = status; }},
  }});
</script>
"""
FOUR_EVENTS = """
return [
  movieEvents.watch(603, "start", 0, 8160),
  movieEvents.click("play-button", "/movies/603"),
  movieEvents.comment(603, "Still holds up.", 9),
  movieEvents.watch(603, "pause", 42.5, 8160),
];
"""
THREE_MORE = """
return [
  movieEvents.watch(603, "progress", 300, 8160),
  movieEvents.click("add-to-watchlist"),
  movieEvents.comment(603, "The lobby scene, though.", 8.5),
];
"""
ALL_ACCEPTED = "return arguments[0].every((id) => statuses[id] === 'accepted');"
STATUSES = "return arguments[0].map((id) => statuses[id]);"


class PageServer(ServedTwin):
    """Serves test pages from its own origin, http://127.0.0.1:<port>."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        app = Starlette(routes=[Route("/{name}", self._page)])
        self.server = LoopbackServer(app, "page")
        self.origin = f"http://127.0.0.1:{self.server.port}"

    def url(self, name: str, host: str = "127.0.0.1", **query: object) -> str:
        return f"http://{host}:{self.server.port}/{name}?{urlencode(query)}"

    async def _page(self, request: Request) -> Response:
        return HTMLResponse(self.pages.get(request.path_params["name"], ""))


class FlakyProxy(ServedTwin):
    """In front of the service: answers the first `failures` posts 503, as the service does
    when Kafka lags, then forwards, holding the first forwarded answer back `hold_seconds`.
    Keeps every body it was sent and every status it answered."""

    def __init__(self, upstream: str, failures: int = 0, hold_seconds: float = 0) -> None:
        self.upstream, self.failures, self.hold_seconds = upstream, failures, hold_seconds
        self.bodies: list[bytes] = []
        self.statuses: list[int] = []
        self._lock = threading.Lock()  # handlers run on the server's thread
        app = Starlette(routes=[Route("/events", self._events, methods=["POST"])])
        self.server = LoopbackServer(app, "proxy")
        self.url = f"http://127.0.0.1:{self.server.port}"

    async def _events(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.bodies.append(body)
            failing = len(self.bodies) <= self.failures
        origin = request.headers.get("origin", "")
        if failing:
            headers = {"Retry-After": "1", "Access-Control-Allow-Origin": origin}
            response = Response(b'{"detail": "unavailable"}', 503, headers, "application/json")
        else:
            forwarded = {"content-type": request.headers["content-type"], "origin": origin}
            async with httpx.AsyncClient() as client:
                answer = await client.post(
                    f"{self.upstream}/events", content=body, headers=forwarded
                )
            kept = ("content-type", "access-control-allow-origin", "vary")
            headers = {name: answer.headers[name] for name in kept if name in answer.headers}
            response = Response(answer.content, answer.status_code, headers)
            with self._lock:
                hold, self.hold_seconds = self.hold_seconds, 0
            await asyncio.sleep(hold)
        with self._lock:
            self.statuses.append(response.status_code)
        return response

    def posts_of(self, event_id: str) -> int:
        """How many bodies carried this event."""
        return sum(event_id.encode() in body for body in self.bodies)


@pytest.fixture(scope="module")
def pages() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


@pytest.fixture(scope="module")
def service(pages: PageServer) -> Iterator[ServiceProcess]:
    """The service, letting the page server's origin read its answers."""
    process = ServiceProcess(CORS_ORIGINS=pages.origin)
    pages.pages["tracked.html"] = TRACKED_PAGE.format(service=process.base_url)
    pages.pages["blank.html"] = "<!doctype html><title>Not allowlisted</title>"
    process.start()
    yield process
    process.stop()


def new_user() -> str:
    return f"browser-{uuid.uuid4().hex[:8]}"


async def wait_for_landing(settings: Settings, ids: list[str], comments: int) -> Landed:
    """What has landed once every event has, or after the poll's 60 s; bounded even if a store
    hangs."""
    async with asyncio.timeout(120):
        return await wait_until_landed(settings, ids, comments)


async def test_events_from_another_origin_land_once_the_last_by_beacon(
    settings, service, pages, browser
):
    with FlakyProxy(service.base_url) as proxy:
        page = pages.url("tracked.html", endpoint=proxy.url, user=new_user(), batch=4)
        browser.navigate(page)
        posted = browser.execute(FOUR_EVENTS)  # a full batch: fetched at once
        browser.wait_until(ALL_ACCEPTED, posted)
        queued = browser.execute(THREE_MORE)
        assert browser.execute(STATUSES, queued) == ["queued"] * 3

        browser.navigate("about:blank")  # pagehide: the queue goes by sendBeacon

        ids = posted + queued
        landed = await wait_for_landing(settings, ids, 2)
        # The stores keep one row per id whatever is sent: the proxy saw what the page sent.
        assert [proxy.posts_of(event_id) for event_id in ids] == [1] * 7
        assert proxy.statuses == [202, 202]
    assert landed == Landed(mongo=7, staged=7, staged_distinct=7, comments=2)


async def test_a_batch_in_flight_when_the_page_is_left_is_not_sent_again_by_beacon(
    settings, service, pages, browser
):
    with FlakyProxy(service.base_url, hold_seconds=3) as proxy:
        page = pages.url("tracked.html", endpoint=proxy.url, user=new_user(), batch=4)
        browser.navigate(page)
        in_flight = browser.execute(FOUR_EVENTS)  # fetched at once; its answer is held back
        queued = browser.execute(THREE_MORE)
        browser.navigate("about:blank")  # the fetch is keepalive: it outlives the page

        ids = in_flight + queued
        landed = await wait_for_landing(settings, ids, 2)
        assert [proxy.posts_of(event_id) for event_id in ids] == [1] * 7
    assert landed == Landed(mongo=7, staged=7, staged_distinct=7, comments=2)


# The same page server, named "localhost": an origin the service does not allowlist.
CROSS_ORIGIN_POSTS = """
const [url, preflighted, simple, done] = arguments;
const post = (type, body) => fetch(url, {method: "POST", headers: {"Content-Type": type}, body})
  .then((response) => `read ${response.status}`, (error) => error.name);
post("application/json", preflighted)
  .then((first) => post("text/plain", simple).then((second) => done([first, second])));
"""


async def test_an_origin_not_allowlisted_reads_no_answer_and_sends_no_preflighted_post(
    settings, service, pages, browser
):
    browser.navigate(pages.url("blank.html", host="localhost"))
    user = new_user()
    preflighted, simple = new_event("click", user), new_event("click", user)
    outcomes = browser.execute_async(
        CROSS_ORIGIN_POSTS,
        f"{service.base_url}/events",
        orjson.dumps(preflighted).decode(),
        orjson.dumps(simple).decode(),
    )
    # The browser refuses both answers to the page. An application/json post needs a preflight
    # the service refuses, so it is never sent; a text/plain one is a simple request, sent
    # without asking (CORS guards what a page may read, not what it may send).
    assert outcomes == ["TypeError", "TypeError"]
    simple_landed = await wait_for_landing(settings, [simple["event_id"]], 0)
    assert simple_landed.staged == 1
    assert await count_landed(settings, [preflighted["event_id"]]) == Landed(0, 0, 0, 0)


async def test_a_batch_retried_through_503s_lands_once(settings, service, pages, browser):
    with FlakyProxy(service.base_url, failures=3) as proxy:
        browser.navigate(
            pages.url(
                "tracked.html", endpoint=proxy.url, user=new_user(), batch=4, **{"fallback-uuid": 1}
            )
        )
        assert browser.execute("return typeof crypto.randomUUID;") == "undefined"
        ids = browser.execute(FOUR_EVENTS)
        browser.wait_until(ALL_ACCEPTED, ids, timeout=20)
        assert proxy.statuses == [503, 503, 503, 202]
        assert len(set(proxy.bodies)) == 1  # every attempt the same bytes, so the same ids
    assert {uuid.UUID(event_id).version for event_id in ids} == {4}

    landed = await wait_for_landing(settings, ids, 1)
    assert landed == Landed(mongo=4, staged=4, staged_distinct=4, comments=1)


# The demo's log, [event id, status] per row, once it shows six events all accepted.
DEMO_ALL_ACCEPTED = """
const rows = [...document.querySelectorAll("#log tr")].map(
  (row) => [row.dataset.eventId, row.querySelector(".status").textContent]);
return rows.length === 6 && rows.every(([, status]) => status === "accepted") && rows;
"""


async def test_the_demo_page_sends_what_its_buttons_say(settings, service, browser):
    browser.navigate(f"{service.ops_url}/demo")
    for button in ("#play", "#seek", "#pause", "#watchlist", "#trailer"):
        browser.click(browser.find(button))
    browser.type_text(browser.find("#comment-text"), "Whoa.")
    browser.click(browser.find("#comment-submit"))

    ids = [event_id for event_id, _ in browser.wait_until(DEMO_ALL_ACCEPTED)]
    log = browser.text(browser.find("#log"))
    assert all(event_id in log for event_id in ids)
    screenshot = browser.screenshot(ARTIFACTS / "demo.png")
    print(f"demo screenshot: {screenshot}")

    landed = await wait_for_landing(settings, ids, 1)
    assert landed == Landed(mongo=6, staged=6, staged_distinct=6, comments=1)
    connection = await asyncpg.connect(settings.database_url)
    try:
        stored = await connection.fetch(
            "SELECT event_type, coalesce(payload->>'action', payload->>'element', "
            "payload->>'text') AS what FROM stg_user_logs WHERE event_id = ANY($1::uuid[])",
            [uuid.UUID(event_id) for event_id in ids],
        )
    finally:
        await connection.close()
    assert sorted((row["event_type"], row["what"]) for row in stored) == [
        ("click", "add-to-watchlist"), ("click", "trailer"), ("comment", "Whoa."),
        ("watch", "pause"), ("watch", "progress"), ("watch", "start"),
    ]  # fmt: skip


GIVEN_UP = "return arguments[0].every((id) => statuses[id] === 'failed');"


async def test_a_batch_given_up_holds_nothing_back_and_long_text_is_cut_to_fit(
    settings, service, pages, browser
):
    with FlakyProxy(service.base_url, failures=1_000) as proxy:
        browser.navigate(
            pages.url("tracked.html", endpoint=proxy.url, user=new_user(), batch=4,
                      attempts=2, **{"retry-ms": 50})
        )  # fmt: skip
        refused = browser.execute(FOUR_EVENTS)
        browser.wait_until(GIVEN_UP, refused, timeout=20)
        assert len(proxy.bodies) == 2  # maxAttempts, then no more
        proxy.failures = 0  # the service answers again
        later = browser.execute(
            "return [movieEvents.comment(603, 'x'.repeat(6000), 7), movieEvents.flush()][0];"
        )
        browser.wait_until(ALL_ACCEPTED, [later], timeout=20)
    await wait_for_landing(settings, [later], 1)
    connection = await asyncpg.connect(settings.database_url)
    try:
        text = await connection.fetchval(
            "SELECT comment_text FROM stg_comments WHERE event_id = $1", uuid.UUID(later)
        )
    finally:
        await connection.close()
    assert text == "x" * 5000  # the service's limit: cut, not refused
