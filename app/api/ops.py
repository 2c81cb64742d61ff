"""Operational endpoints: `/health` (the process is alive), `/ready` (its dependencies answer:
the status for anyone, the detail on the operators' listener) and `/metrics` (operators')."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from app.access.listeners import on_operators_listener
from app.config import Settings
from app.metrics import registry
from app.model.health import SparkLag
from app.ops.readiness import ReadinessMonitor, public_detail

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
    checkpoint_resets: int
    offset_gaps: int


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    dependencies: dict[str, DependencyState] | None = Field(
        default=None, description="On the operators' listener only, like what follows."
    )
    spark: SparkState | None = None
    consumer_offset_gaps: dict[str, int] | None = Field(
        default=None,
        description="Messages each consumer group never read because Kafka's retention "
        "removed them first; detail only, like spark.",
    )


@router.get("/health")
async def health() -> Health:
    return Health()


@router.get(
    "/ready",
    responses={503: {"model": Readiness, "description": "A dependency is down"}},
    response_model_exclude_none=True,
)
async def ready(request: Request, response: Response) -> Readiness:
    """From the probes' last round, at most a few seconds old."""
    monitor: ReadinessMonitor = request.app.state.readiness
    latest = await monitor.latest()
    settings = request.app.state.resources.settings
    response.status_code = 200 if latest.ready else 503
    status = "ready" if latest.ready else "unavailable"
    if not on_operators_listener(request.scope, settings.ops_port):
        return Readiness(status=status)
    return Readiness(
        status=status,
        dependencies={
            result.name: DependencyState(
                state="up" if result.ok else "down", detail=public_detail(result)
            )
            for result in latest.probes
        },
        spark=spark_state(latest.spark, settings) if latest.spark else None,
        consumer_offset_gaps=latest.consumer_gaps,
    )


def spark_state(lag: SparkLag, settings: Settings) -> SparkState:
    lagging = lag.is_lagging(settings.spark_lag_threshold_messages, settings.spark_stale_seconds)
    return SparkState(
        lag_messages=lag.lag_messages, last_batch_at=lag.last_batch_at, lagging=lagging,
        checkpoint_resets=lag.checkpoint_resets, offset_gaps=lag.offset_gaps,
    )  # fmt: skip


# Operators' routes stay out of the OpenAPI document, which the public listener serves.
@router.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
async def metrics() -> PlainTextResponse:
    return PlainTextResponse(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)
