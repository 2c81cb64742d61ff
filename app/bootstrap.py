"""The composition root: every long-lived resource of a process, built once from Settings.

The service's lifespan, the standalone consumers, the scheduler and every command get their
clients from here (`async with build_resources(settings) as resources`). A test swaps any of
them for a fake by passing it to `build_resources`, never by patching.
Every client connects lazily, so a process starts (and reports itself unready) while a
dependency is down.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

import httpx
from pymongo import AsyncMongoClient

from app.access.authenticator import Authenticator
from app.access.credentials import ServiceTokens, TokenRules
from app.access.jwks import JwksKeys
from app.catalogue.sources import MovieSource, SampleCatalogue, TmdbCatalogue
from app.catalogue.tmdb_client import TmdbClient
from app.config import MissingSetting, Settings
from app.db.postgres import PostgresPool
from app.ingest.events import EventLimits
from app.producers.kafka import KafkaPublisher, Publisher
from app.segment.door import SegmentDoor
from app.segment.mapping_rules import load_segment_rules
from app.segment.write_keys import WriteKeys
from jobs.rules import Rules, load_rules


@dataclass(frozen=True)
class Resources:
    settings: Settings
    postgres: PostgresPool
    mongo: AsyncMongoClient
    publisher: Publisher
    rules: Rules
    event_limits: EventLimits  # derived from the rules once, not per request
    movie_source: MovieSource

    async def __aenter__(self) -> Resources:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """In reverse order of need: nothing publishes once the stores are gone."""
        await self.movie_source.close()
        await self.publisher.close()
        await self.mongo.close()
        await self.postgres.close()


def build_resources(
    settings: Settings,
    *,
    postgres: PostgresPool | None = None,
    mongo: AsyncMongoClient | None = None,
    publisher: Publisher | None = None,
    rules: Rules | None = None,
    movie_source: MovieSource | None = None,
) -> Resources:
    rules = rules or load_rules()
    return Resources(
        settings=settings,
        postgres=postgres or PostgresPool(settings.database_url, settings.postgres_pool_size),
        mongo=mongo or mongo_client(settings.mongo_url),
        publisher=publisher
        or KafkaPublisher(settings.kafka_bootstrap_servers, settings.publish_timeout_seconds),
        rules=rules,
        event_limits=EventLimits.from_rules(rules),
        movie_source=movie_source or choose_movie_source(settings),
    )


def mongo_client(url: str) -> AsyncMongoClient:
    return AsyncMongoClient(
        url, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000, tz_aware=True
    )


def choose_movie_source(settings: Settings) -> MovieSource:
    token = settings.tmdb_api_token
    if token is None:
        return SampleCatalogue()
    client = TmdbClient(
        settings.tmdb_api_url,
        token.get_secret_value(),
        requests_per_second=settings.tmdb_requests_per_second,
    )
    return TmdbCatalogue(client, settings.tmdb_full_sync_pages, settings.tmdb_recent_days)


def build_authenticator(settings: Settings) -> Authenticator:
    """Who may read users' data. Raises MissingSetting or ValueError (check_access_settings)."""
    services = check_access_settings(settings)
    jwks = None
    if settings.auth_jwks_url is not None:
        http = httpx.AsyncClient(timeout=settings.readiness_timeout_seconds)
        jwks = JwksKeys(settings.auth_jwks_url, http, settings.auth_jwks_cache_seconds)
    secret = settings.auth_hs256_secret
    return Authenticator(
        token_rules(settings), services, jwks, secret.get_secret_value() if secret else None
    )


def token_rules(settings: Settings) -> TokenRules:
    return TokenRules(
        settings.auth_issuer,
        settings.auth_audience,
        settings.auth_user_claim,
        settings.auth_leeway_seconds,
    )


def build_segment_door(settings: Settings) -> SegmentDoor:
    """The Segment routes' write keys and mapping. Raises ValueError or RulesError."""
    keys = settings.segment_write_keys
    return SegmentDoor(
        WriteKeys.from_json(keys.get_secret_value() if keys else None), load_segment_rules()
    )


def check_access_settings(settings: Settings) -> ServiceTokens:
    """A start-up error when no way to verify a user's token is set, or the service tokens do
    not parse; else the service tokens."""
    if settings.auth_jwks_url is None and settings.auth_hs256_secret is None:
        raise MissingSetting("auth_jwks_url", "auth_hs256_secret")
    services = settings.service_tokens
    return ServiceTokens.from_json(services.get_secret_value() if services else None)
