"""create_app(): the FastAPI application, its routers, error handlers and lifespan. It serves
the API alone: the consumers and scheduler run beside it (app/roles.py).

The same application answers on both listeners: on the operators' one, every route; on the
public one, no operator route (app/access/routes.py), and the fair-use limits apply."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from app.access.authenticator import Authenticator
from app.access.credentials import Forbidden, Unauthenticated
from app.access.jwks import KeysUnavailable
from app.access.listeners import on_operators_listener
from app.access.routes import OPERATOR_PATHS, unclassified
from app.api import ingest, ops, problems, public, status, web
from app.api.fair_use import FairUse
from app.api.ingest_lane import ingest_lane, is_ingest
from app.api.segment_lane import is_segment, segment_lane
from app.bootstrap import Resources, build_authenticator, build_resources, build_segment_door
from app.config import Settings, get_settings
from app.ops.pipeline_status import StatusMonitor
from app.ops.readiness import ReadinessMonitor
from app.serving.cache import AnswerCache
from app.serving.params import BadParameter

NOT_FOUND = problems.problem(404, "not-found", "Not found", "no such route")


class Service(FastAPI):
    """FastAPI, with POST /events and the Segment routes taken by their lanes before its
    middleware and routing, and declared in its OpenAPI all the same."""

    lane: ASGIApp
    segment: ASGIApp
    ops_port: int

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] in OPERATOR_PATHS
            and not on_operators_listener(scope, self.ops_port)
        ):
            await NOT_FOUND(scope, receive, send)  # as if it did not exist here
        elif is_ingest(scope):
            await self.lane(scope, receive, send)
        elif is_segment(scope):
            await self.segment(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    @property
    def routes(self) -> list[BaseRoute]:
        return [*self.router.routes, *ingest.documented.routes]


def cors_options(settings: Settings) -> dict[str, Any]:
    return {
        "allow_origins": settings.cors_origin_list,
        "allow_methods": ["POST", "GET"],
        # X-Retry-Count: Segment's browser SDK sends it, and a write key as Basic auth.
        "allow_headers": ["Content-Type", "Content-Encoding", "Authorization", "X-Retry-Count"],
        # So that trackers on other origins wait as long as asked.
        "expose_headers": ["Retry-After", "RateLimit", "RateLimit-Policy"],
        "max_age": 600,
    }


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> Service:
    """The service; `resources` (a test's fakes, say) replaces what Settings would build.
    Raises MissingSetting when no way to verify users' tokens is set."""
    settings = resources.settings if resources else settings or get_settings()
    authenticator = build_authenticator(settings)
    segment_door = build_segment_door(settings)

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
                await app.state.answer_cache.close()  # refreshes use the resources closed next
                await app.state.readiness.stop()
                await authenticator.close()

    app = Service(
        # FastAPI's own OpenTelemetry hooks look up the providers on every request: a tenth of
        # a small request's time. We export Prometheus metrics instead.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="Movie pipeline",
        summary="Event ingest and public statistics of the movie review application",
        lifespan=lifespan,
    )
    app.ops_port = settings.ops_port
    app.state.authenticator = authenticator
    app.state.answer_cache = AnswerCache(
        settings.serving_answer_cache_size,
        settings.serving_cache_seconds,
        settings.serving_stale_seconds,
    )
    cors = cors_options(settings)
    # Added first, so CORS wraps it: a browser can read a 429 and its Retry-After.
    app.add_middleware(FairUse, **read_limits(settings, authenticator))
    app.add_middleware(CORSMiddleware, **cors)
    app.lane = ingest_lane(app.state, cors, ingest_limits(settings))
    app.segment = segment_lane(app.state, segment_door, cors, ingest_limits(settings))
    app.add_exception_handler(BadParameter, problems.bad_parameter_response)
    app.add_exception_handler(RequestValidationError, problems.validation_error_response)
    app.add_exception_handler(Unauthenticated, problems.unauthenticated_response)
    app.add_exception_handler(Forbidden, problems.forbidden_response)
    app.add_exception_handler(KeysUnavailable, problems.keys_unavailable_response)
    app.include_router(ingest.router)
    app.include_router(public.router)
    app.include_router(ops.router)
    app.include_router(status.router)
    app.include_router(web.router)
    if missing := unclassified(route_paths(app)):
        raise LookupError(f"routes without an access class in app/access/routes.py: {missing}")
    return app


def route_paths(app: FastAPI) -> list[str]:
    return [route.path for route in iter_route_contexts(app.routes)]


def read_limits(settings: Settings, authenticator: Authenticator) -> dict[str, Any]:
    """Every public route but ingest; the app's backend, by its service token, goes free."""
    return {
        "name": "read", "limits": settings.rate_limit_read, "ops_port": settings.ops_port,
        "exempt": authenticator.services, "enabled": settings.rate_limits_enabled,
    }  # fmt: skip


def ingest_limits(settings: Settings) -> dict[str, Any]:
    return {
        "name": "ingest", "limits": settings.rate_limit_ingest, "ops_port": settings.ops_port,
        "enabled": settings.rate_limits_enabled,
    }  # fmt: skip
