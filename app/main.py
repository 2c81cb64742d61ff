"""create_app(): the FastAPI application, its routers, error handlers and lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.api import ingest, ops
from app.config import Settings, get_settings
from app.consumers.groups import GROUPS, build_runner
from app.consumers.supervisor import ConsumerSupervisor
from app.ingest_body import IngestError
from app.producers.kafka import KafkaPublisher
from app.scheduler import build_scheduler


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        publisher = KafkaPublisher(
            settings.kafka_bootstrap_servers, settings.publish_timeout_seconds
        )
        app.state.publisher = publisher
        consumers = ConsumerSupervisor(
            [build_runner(group, settings, publisher) for group in GROUPS]
            if settings.run_consumers
            else []
        )
        consumers.start()
        scheduler = build_scheduler(settings, publisher)
        if settings.run_scheduler:
            scheduler.start()  # inside the running loop, as AsyncIOScheduler needs
        try:
            yield
        finally:
            if scheduler.running:
                scheduler.shutdown(wait=False)
            await consumers.stop()
            await publisher.close()

    app = FastAPI(
        title="Movie pipeline",
        summary="Event ingest and public statistics of the movie review application",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origin_list,
        allow_methods=["POST", "GET"],
        allow_headers=["Content-Type", "Content-Encoding"],
        max_age=600,
    )
    app.add_exception_handler(IngestError, ingest.ingest_error_response)
    app.include_router(ingest.router)
    app.include_router(ops.router)
    return app
