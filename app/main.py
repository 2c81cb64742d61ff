"""create_app(): the FastAPI application, its routers, error handlers and lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware

from app.api import ingest, ops, problems, public, status, web
from app.background import background_work, consumer_groups
from app.bootstrap import Resources, build_resources
from app.config import Settings, get_settings
from app.ingest.request_body import IngestError
from app.ops.pipeline_status import StatusMonitor
from app.ops.readiness import ReadinessMonitor
from app.serving.cache import AnswerCache
from app.serving.params import BadParameter


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> FastAPI:
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
                groups = consumer_groups(settings.run_consumers)
                async with background_work(built, groups, settings.run_scheduler):
                    yield
            finally:
                await app.state.readiness.stop()

    app = FastAPI(
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
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origin_list,
        allow_methods=["POST", "GET"],
        allow_headers=["Content-Type", "Content-Encoding"],
        expose_headers=["Retry-After"],  # so trackers on other origins wait as long as asked
        max_age=600,
    )
    app.add_exception_handler(IngestError, ingest.ingest_error_response)
    app.add_exception_handler(BadParameter, problems.bad_parameter_response)
    app.add_exception_handler(RequestValidationError, problems.validation_error_response)
    app.include_router(ingest.router)
    app.include_router(public.router)
    app.include_router(ops.router)
    app.include_router(status.router)
    app.include_router(web.router)
    return app
