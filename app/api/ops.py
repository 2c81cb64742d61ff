"""Operational endpoints: `/health` (the process is alive), `/ready` (its dependencies answer)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from app.api.deps import ResourcesDep
from app.bootstrap import Resources
from app.model.health import measure_spark_lag
from app.ops.probes import probe_all

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["alive"] = "alive"


class DependencyState(BaseModel):
    state: Literal["up", "down"]
    detail: str


class SparkState(BaseModel):
    """Detail only: a lagging Spark is covered by the fallback, so it never makes us unready."""

    lag_messages: int
    last_batch_at: datetime | None
    lagging: bool


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    dependencies: dict[str, DependencyState]
    spark: SparkState | None = None


@router.get("/health")
async def health() -> Health:
    return Health()


@router.get("/ready", responses={503: {"model": Readiness, "description": "A dependency is down"}})
async def ready(resources: ResourcesDep, response: Response) -> Readiness:
    results = await probe_all(resources)
    all_up = all(result.ok for result in results)
    response.status_code = 200 if all_up else 503
    return Readiness(
        status="ready" if all_up else "unavailable",
        dependencies={
            result.name: DependencyState(state="up" if result.ok else "down", detail=result.detail)
            for result in results
        },
        spark=await spark_state(resources) if all_up else None,
    )


async def spark_state(resources: Resources) -> SparkState | None:
    settings = resources.settings
    try:
        async with asyncio.timeout(settings.readiness_timeout_seconds):
            lag = await measure_spark_lag(resources.postgres, settings)
    except Exception:  # detail only: readiness was decided by the probes above
        return None
    lagging = lag.is_lagging(settings.spark_lag_threshold_messages, settings.spark_stale_seconds)
    return SparkState(
        lag_messages=lag.lag_messages, last_batch_at=lag.last_batch_at, lagging=lagging
    )


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics() -> PlainTextResponse:
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)
