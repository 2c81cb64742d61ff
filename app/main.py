"""create_app(): the FastAPI application, its routers, error handlers and lifespan. It serves
the API alone: the consumers and scheduler run beside it (app/roles.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api import ingest, ops, problems, public, status, web
from app.api.ingest_lane import ingest_lane, is_ingest
from app.bootstrap import Resources, build_resources
from app.config import Settings, get_settings
from app.ops.pipeline_status import StatusMonitor
from app.ops.readiness import ReadinessMonitor
from app.serving.cache import AnswerCache
from app.serving.params import BadParameter


class Service(FastAPI):
    """FastAPI, with POST /events taken by the ingest lane before its middleware and routing,
    and declared in its OpenAPI all the same."""

    lane: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_ingest(scope):
            await self.lane(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    @property
    def routes(self) -> list[BaseRoute]:
        return [*self.router.routes, *ingest.documented.routes]


def cors_options(settings: Settings) -> dict[str, Any]:
    return {
        "allow_origins": settings.cors_origin_list,
        "allow_methods": ["POST", "GET"],
        "allow_headers": ["Content-Type", "Content-Encoding"],
        "expose_headers": ["Retry-After"],  # so trackers on other origins wait as long as asked
        "max_age": 600,
    }


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> Service:
    """The service; `resources` (a test's fakes, say) replaces what Settings would build."""
    settings = resources.settings if resources else settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with resources or build_resources(settings) as built:
            app.state.resources = built
            app.state.readiness = ReadinessMonitor(built, settings.readiness_refresh_seconds)
            app.state.readiness.start()
            app.state.status = StatusMonitor(
                built, app.state.readiness, settings.status_refresh_seconds
            )
            try:
                yield
            finally:
                await app.state.readiness.stop()

    app = Service(
        # FastAPI's own OpenTelemetry hooks look up the providers on every request: a tenth of
        # a small request's time. We export Prometheus metrics instead.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="Movie pipeline",
        summary="Event ingest and public statistics of the movie review application",
        lifespan=lifespan,
    )
    app.state.answer_cache = AnswerCache(
        settings.serving_answer_cache_size, settings.serving_cache_seconds
    )
    cors = cors_options(settings)
    app.add_middleware(CORSMiddleware, **cors)
    app.lane = ingest_lane(app.state, cors)
    app.add_exception_handler(BadParameter, problems.bad_parameter_response)
    app.add_exception_handler(RequestValidationError, problems.validation_error_response)
    app.include_router(ingest.router)
    app.include_router(public.router)
    app.include_router(ops.router)
    app.include_router(status.router)
    app.include_router(web.router)
    return app
