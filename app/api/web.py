"""`GET /`, `GET /tracker.js` and `GET /demo`: the pipeline page, the browser tracker and a
page to try it on."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response

router = APIRouter(tags=["web"])

WEB = files("app.web")
# Read once: both are small and never change while the service runs.
TRACKER_JS = (WEB / "tracker.js").read_bytes()
DEMO_HTML = (WEB / "demo.html").read_bytes()
PIPELINE_HTML = (WEB / "pipeline.html").read_bytes()
# Short, so that a new tracker reaches pages within minutes of a deploy.
CACHE_CONTROL = {"Cache-Control": "public, max-age=300"}


@router.get("/tracker.js", include_in_schema=False)
async def tracker() -> Response:
    return Response(
        TRACKER_JS, media_type="application/javascript; charset=utf-8", headers=CACHE_CONTROL
    )


@router.get("/demo", include_in_schema=False)
async def demo() -> Response:
    return Response(DEMO_HTML, media_type="text/html; charset=utf-8", headers=CACHE_CONTROL)


@router.get("/", include_in_schema=False)
async def pipeline() -> Response:
    """The page fetches its figures from `/status` and `/api/*`, so the HTML never goes stale."""
    return Response(PIPELINE_HTML, media_type="text/html; charset=utf-8", headers=CACHE_CONTROL)
