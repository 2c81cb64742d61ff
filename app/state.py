"""Request-time access to what the lifespan built, as FastAPI dependencies."""

from __future__ import annotations

from fastapi import Request

from app.config import Settings
from app.producers.kafka import KafkaPublisher


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_publisher(request: Request) -> KafkaPublisher:
    return request.app.state.publisher
