"""Operational endpoints: `/health` (the process is alive), `/ready` (its dependencies answer)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from app.config import Settings
from app.probes import probe_all
from app.state import get_settings_dep

router = APIRouter(tags=["operations"])
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


class Health(BaseModel):
    status: Literal["alive"] = "alive"


class DependencyState(BaseModel):
    state: Literal["up", "down"]
    detail: str


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    dependencies: dict[str, DependencyState]


@router.get("/health")
async def health() -> Health:
    return Health()


@router.get("/ready", responses={503: {"model": Readiness, "description": "A dependency is down"}})
async def ready(settings: SettingsDep, response: Response) -> Readiness:
    results = await probe_all(settings)
    all_up = all(result.ok for result in results)
    response.status_code = 200 if all_up else 503
    return Readiness(
        status="ready" if all_up else "unavailable",
        dependencies={
            result.name: DependencyState(state="up" if result.ok else "down", detail=result.detail)
            for result in results
        },
    )


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics() -> PlainTextResponse:
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)
