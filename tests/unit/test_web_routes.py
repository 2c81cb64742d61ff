"""`GET /`, `GET /tracker.js` and `GET /demo`: served from the package, with a short cache."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from app.api import web


async def get(path: str) -> httpx.Response:
    app = FastAPI()
    app.include_router(web.router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


async def test_the_tracker_is_javascript_cached_briefly():
    response = await get("/tracker.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert response.headers["cache-control"] == "public, max-age=300"
    assert "window.movieEvents" in response.text
    assert response.content.isascii()  # no charset question for pages in any encoding


async def test_the_demo_is_a_self_contained_page_loading_the_tracker():
    response = await get("/demo")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script src="/tracker.js"></script>' in response.text
    assert "http://" not in response.text and "https://" not in response.text


async def test_the_pipeline_page_reads_the_service_it_came_from_and_writes_no_markup():
    response = await get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert 'getJson("/status")' in page and 'getJson("/api/top_movies' in page
    # Titles and reasons come from users: they are set as text, never parsed as HTML.
    assert "innerHTML" not in page and "insertAdjacentHTML" not in page
