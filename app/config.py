"""Settings: the only reader of the environment.

Every default points at the local stack that `make up` starts, so a fresh clone runs as is;
point the variables at your own Kafka, MongoDB and PostgreSQL to use those instead.
"""

from __future__ import annotations

import shlex
from enum import StrEnum
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from limits import parse_many
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.local_stack import local_cache_dir, local_stack_secrets
from app.topics import MOVIE_TOPIC, RECEIPTS_TOPIC, TOPIC_OF_TYPE


class FallbackMode(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"
    OFF = "off"


class MissingSetting(Exception):
    """A secret that has no default: the operator sets it, or the local stack generates it."""

    def __init__(self, *names: str) -> None:
        super().__init__(
            f"{' or '.join(name.upper() for name in names)} is not set: put it in the "
            "environment or .env (`make up` generates one for the local stack)"
        )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=tuple(file for file in (local_stack_secrets(), ".env") if file),
        extra="ignore",
        frozen=True,
    )

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_partitions: int = Field(default=3, ge=1, le=64)
    kafka_replication_factor: int = Field(default=1, ge=1)
    dead_letter_topic: str = "dead_letter"
    # How long Kafka keeps events (and receipts): a week, for a consumer, Spark or the fallback
    # to catch up after an outage; past it, a replay comes from the MongoDB backup. Dead letters
    # a month: the time operators have to read and send them again.
    kafka_retention_hours: int = Field(default=168, ge=1)
    kafka_dead_letter_retention_hours: int = Field(default=720, ge=1)
    # Staging holds a partition per receive day, added this many days ahead, and keeps a month:
    # beyond the week that the resend window, Kafka and the audit's rechecks need, time for a
    # trace, a fallback run or a replay over the last weeks. Older days are dropped whole; the
    # model's facts and rollups stay. Never less than the resend window (the writer's look-back).
    partitions_ahead_days: int = Field(default=7, ge=1, le=60)
    staging_retention_days: int = Field(default=30, ge=8)
    storage_upkeep_cron: str = "5 * * * *"  # hourly: partitions ahead, then retention

    mongo_url: str = "mongodb://127.0.0.1:27017/"
    mongo_database: str = "raw"
    # Unset: the backup keeps every event, as it is where a replay comes from once Kafka's week
    # has passed. Set, a TTL index on ingested_at removes older documents (not on FerretDB).
    mongo_backup_retention_days: int | None = Field(default=None, ge=8)

    database_url: str = "postgresql://movies@127.0.0.1:55432/movies"

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_workers: int = Field(default=1, ge=1, le=64)  # API processes sharing the port
    api_max_connections: int = Field(default=2048, ge=1)  # beyond: 503 at once
    api_header_timeout_seconds: float = Field(default=10.0, gt=0)  # then the connection closes
    api_body_timeout_seconds: float = Field(default=30.0, gt=0)  # then 408
    # The operators' listener: /metrics, /status, the pipeline page, /demo, /ready's detail.
    # Loopback by default: what it shows is for the people running the service.
    ops_host: str = "127.0.0.1"
    ops_port: int = Field(default=8001, ge=1, le=65535)
    # Proxies whose X-Forwarded-For names the client (comma-separated addresses or networks);
    # from anyone else the header is ignored, so a client cannot choose its own address.
    trusted_proxies: str = ""

    # Who may read a user's statistics: a bearer token of the app's identity provider, checked
    # against its JWKS (asymmetric keys) or a shared HS256 secret; or a service token.
    auth_jwks_url: str | None = None
    auth_hs256_secret: SecretStr | None = None
    auth_issuer: str = "movie-pipeline"
    auth_audience: str = "movie-pipeline-api"
    auth_user_claim: str = "sub"  # the claim that holds the user id
    auth_leeway_seconds: int = Field(default=30, ge=0, le=300)  # clock skew allowed on exp, nbf
    auth_jwks_cache_seconds: int = Field(default=300, ge=10)
    # Services (the app's own backend) as a JSON object: {"name": {"token": "...",
    # "scopes": ["users:read"]}}.
    service_tokens: SecretStr | None = None
    # The sources that may send Segment messages, as a JSON object: {"web": "<write key>"}.
    # None set: the Segment routes answer 401 to every request.
    segment_write_keys: SecretStr | None = None

    # Fair use, per client address and API process, in the notation of the `limits` library
    # ("100/second;3000/minute"); beyond, 429 with Retry-After. A page's tracker sends a few
    # requests a second at most: these leave room for many users behind one NAT address.
    rate_limits_enabled: bool = True
    rate_limit_ingest: str = "100/second"
    rate_limit_read: str = "50/second"
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"  # auto: console on a terminal

    tmdb_api_url: str = "https://api.themoviedb.org/3"
    tmdb_api_token: SecretStr | None = None

    tmdb_requests_per_second: float = Field(default=20.0, gt=0, le=40)
    tmdb_full_sync_pages: int = Field(default=5, ge=1, le=500)
    tmdb_recent_days: int = Field(default=30, ge=1)
    tmdb_full_sync_cron: str = "0 3 * * *"  # daily: popular and recent movies, placeholders
    tmdb_changes_sync_cron: str = "17 * * * *"  # hourly: TMDB's changes feed
    run_scheduler: bool = True  # run the scheduled jobs beside the API (python -m app)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)  # then running jobs are stopped

    spark_checkpoint_dir: str = "/var/tmp/movie-pipeline-stack/spark-checkpoint"
    # local[N] runs Spark in the job's process; spark://host:7077, yarn or k8s://... a cluster.
    # Under spark-submit, its --master wins.
    spark_master: str = "local[2]"
    spark_driver_memory: str = "1g"
    spark_executor_memory: str | None = None  # on a cluster: each executor's heap, e.g. 2g
    spark_executor_cores: int | None = Field(default=None, ge=1)
    # Any other Spark properties, as a JSON object; they override the job's own defaults (on a
    # cluster, spark.driver.host: an address the executors reach; it is 127.0.0.1 otherwise).
    spark_conf: dict[str, str] = Field(default_factory=dict)
    # Extra jars: files or folders of them, comma-separated; or Maven coordinates for Spark to
    # resolve itself. The default folder is the one the local stack fills.
    spark_jars: str = Field(default_factory=lambda: str(local_cache_dir() / "spark-jars"))
    spark_jars_packages: str = ""
    spark_trigger_seconds: float = Field(default=5.0, gt=0)
    spark_max_offsets_per_trigger: int = Field(default=200_000, ge=1)
    # Where a new checkpoint starts: earliest, latest, or Spark's JSON of offsets per partition.
    spark_starting_offsets: str = "earliest"

    # The default when ops have not set a mode at run time (python -m app.jobs fallback-mode).
    fallback_mode: FallbackMode = FallbackMode.AUTO
    spark_health_cron: str = "*/30 * * * * *"
    spark_lag_threshold_messages: int = Field(default=1000, ge=0)
    spark_stale_seconds: int = Field(default=60, ge=1)
    # No automatic fallback this long after the scheduler starts: Spark is starting too.
    spark_startup_grace_seconds: int = Field(default=180, ge=0)
    fallback_settle_seconds: int = Field(default=5, ge=0)  # let staging catch up first
    fallback_max_lookback_seconds: int = Field(default=86_400, ge=1)  # bounds a first run

    # The audit (README, "The audit"). A minute of receive time is checked once this long has
    # passed since it closed (the stages' own delays), then again each pass for a while.
    audit_cron: str = "15 * * * * *"  # every minute
    audit_grace_seconds: int = Field(default=120, ge=0)
    audit_recheck_minutes: int = Field(default=10, ge=0)
    audit_lookback_minutes: int = Field(default=60, ge=1)  # where a first pass starts
    audit_sample_ids: int = Field(default=20, ge=1, le=1000)  # event ids kept per finding
    audit_canary_cron: str = "0 * * * * *"  # every minute
    audit_canary_deadline_seconds: int = Field(default=180, ge=1)  # to reach the model
    audit_table_checks_cron: str = "30 */5 * * * *"  # every five minutes
    # How often MongoDB's count of the backup is held against the backup's ledger: a count is
    # cheap on MongoDB, a walk of the collection on FerretDB.
    audit_backup_count_minutes: int = Field(default=10, ge=0)

    readiness_timeout_seconds: float = Field(default=3.0, gt=0)
    readiness_refresh_seconds: float = Field(default=2.0, gt=0)  # /ready is at most this old
    status_refresh_seconds: float = Field(default=3.0, gt=0)  # and /status this old

    # Ingest limits: refused with 413/422, never a 500.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_inflated_bytes: int = Field(default=4_194_304, ge=1024)
    max_batch_events: int = Field(default=500, ge=1)
    max_json_values: int = Field(default=100_000, ge=100)  # bounds the parse of one body
    publish_timeout_seconds: float = Field(default=5.0, gt=0)
    cors_origins: str = ""  # comma-separated origins allowed to POST /events from a browser

    # The public read API (GET /api/*).
    serving_default_days: int = Field(default=7, ge=1)  # the range when none is asked for
    serving_max_range_days: int = Field(default=366, ge=1)
    serving_min_ratings: int = Field(default=3, ge=1)  # before avg_rating ranks a movie
    serving_timeout_seconds: float = Field(default=2.0, gt=0)  # then 503, Retry-After
    serving_cache_seconds: int = Field(default=5, ge=0)  # Cache-Control max-age
    serving_answer_cache_size: int = Field(default=2048, ge=0)  # answers kept per process
    # How long past max-age an answer is still served while its refresh runs (0: never).
    serving_stale_seconds: int = Field(default=30, ge=0)
    poster_base_url: str = "https://image.tmdb.org/t/p/w500"

    # The analysts' read-only login (prestart creates or updates it) and Metabase's admin.
    analytics_role: str = Field(default="analytics_reader", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    analytics_password: SecretStr | None = None
    metabase_admin_email: str = "admin@movie-pipeline.local"
    metabase_admin_password: SecretStr | None = None
    metabase_warehouse_host: str = ""  # the database's host as Metabase sees it, if not ours

    run_consumers: bool = True  # run the consumers beside the API (python -m app)
    # Added to the niceness of the consumers and scheduler beside the API: under load the API's
    # answers come first, and the background catches up from Kafka. 0 keeps the API's priority.
    background_niceness: int = Field(default=10, ge=0, le=19)
    consumer_batch_size: int = Field(default=500, ge=1)
    postgres_pool_size: int = Field(default=10, ge=2)

    @field_validator(
        "auth_jwks_url",
        "auth_hs256_secret",
        "service_tokens",
        "segment_write_keys",
        "analytics_password",
        mode="before",
    )
    @classmethod
    def empty_is_unset(cls, value: object) -> object:
        # compose passes `${NAME:-}` as an empty string: not a secret, nor a URL.
        return None if value == "" else value

    @field_validator("auth_hs256_secret")
    @classmethod
    def long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be 32 characters or more (RFC 7518: a key as long as its hash)")
        return value

    @field_validator("rate_limit_ingest", "rate_limit_read")
    @classmethod
    def parses_as_limits(cls, value: str) -> str:
        parse_many(value)  # raises ValueError, which names the setting
        return value

    @model_validator(mode="after")
    def listeners_apart(self) -> Settings:
        if self.ops_port == self.api_port:
            raise ValueError("OPS_PORT must differ from API_PORT: operators get a listener apart")
        return self

    def secret(self, name: str) -> str:
        """A secret setting's value, or a start-up error naming it when it is not set."""
        value = getattr(self, name)
        if value is None:
            raise MissingSetting(name)
        return value.get_secret_value()

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def topics(self) -> list[str]:
        return [*TOPIC_OF_TYPE.values(), MOVIE_TOPIC, RECEIPTS_TOPIC, self.dead_letter_topic]

    @property
    def sqlalchemy_database_url(self) -> str:
        """The same database for Alembic, through SQLAlchemy's asyncpg dialect."""
        scheme, rest = self.database_url.split("://", 1)
        if scheme not in ("postgresql", "postgres"):
            raise ValueError(f"DATABASE_URL must be a postgresql:// URL, not {scheme}://")
        return f"postgresql+asyncpg://{rest}"

    def as_env_lines(self) -> list[str]:
        """`KEY=value` lines of the effective settings, each value quoted for a POSIX shell
        (`eval "$(make -s env)"`: cron settings hold spaces and globs). A setting that holds a
        secret is shown masked on a comment line, so that eval leaves the real one alone."""
        lines = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            masked = False
            if isinstance(value, SecretStr):
                shown, masked = "********", True
            elif value is None:
                shown = ""
            elif name.endswith("_url"):
                shown = mask_url_password(str(value))
                masked = shown != str(value)
            else:
                shown = str(value)
            line = f"{name.upper()}={shlex.quote(shown)}"
            lines.append(f"# {line}  (masked)" if masked else line)
        return lines


def mask_url_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":********@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@lru_cache
def get_settings() -> Settings:
    return Settings()


if __name__ == "__main__":
    print("\n".join(get_settings().as_env_lines()))
