"""`GET /status`: the pipeline at a glance, as JSON, for the page at `/` and for operators."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.ops.pipeline_status import PipelineStatus, StatusMonitor

router = APIRouter(tags=["operations"])


@router.get("/status", include_in_schema=False)  # an operators' route: not in public docs
async def status(request: Request, response: Response) -> PipelineStatus:
    """Ingest, consumer lag, Spark, the fallback and the catalogue, a few seconds old at most.

    Always 200: what did not answer is listed in `unavailable` and its parts are null."""
    monitor: StatusMonitor = request.app.state.status
    response.headers["Cache-Control"] = "no-store"
    return await monitor.latest()
