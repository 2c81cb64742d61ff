"""create_app(): the FastAPI application with its routers and lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api import ops
from app.config import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        yield

    app = FastAPI(
        title="Movie pipeline",
        summary="Event ingest and public statistics of the movie review application",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(ops.router)
    return app
