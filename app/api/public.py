"""`GET /api/*`: the public statistics, read from the rollups.

Every answer says how fresh it is (`as_of`) and carries an ETag that follows from it, so a
client asking again with If-None-Match gets a 304 before any statistic is read.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from app.api.deps import CallerDep, ResourcesDep
from app.api.problems import documented_problem, problem
from app.bootstrap import Resources
from app.config import Settings
from app.db.errors import StoreUnavailable
from app.serving import queries, stats
from app.serving.answers import EmotionTrends, Granularity, Metric, TopMovies, UserStats
from app.serving.cache import AnswerCache
from app.serving.params import DayRange, check_known, check_single, day_range, genre_filter
from app.serving.params import user_id as checked_user_id

router = APIRouter(prefix="/api", tags=["statistics"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified since the ETag given in If-None-Match"},
    422: documented_problem("A parameter is unknown or invalid"),
    429: documented_problem("Over the fair-use limit of this client; retry after Retry-After"),
    503: documented_problem("The statistics store did not answer in time"),
}
# Checked by day_range, which names the parameter at fault; declared for clients and fuzzers.
DAY = {"pattern": r"^\d{4}-\d{2}-\d{2}$", "json_schema_extra": {"format": "date"}}
Since = Annotated[
    str | None,
    Query(description="First UTC day, YYYY-MM-DD (default: 6 days before until)", **DAY),
]
Until = Annotated[str | None, Query(description="Last UTC day, YYYY-MM-DD (default: today)", **DAY)]
Genre = Annotated[
    str | None, Query(description="A genre name or TMDB genre id", examples=["Drama", "18"])
]


@router.get("/top_movies", responses=PROBLEMS)
async def top_movies(
    request: Request,
    resources: ResourcesDep,
    since: Since = None,
    until: Until = None,
    metric: Annotated[Metric, Query(description="What to rank by")] = "views",
    genre: Genre = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=10_000, description="For pages")] = 0,
) -> TopMovies:
    """The movies with the most activity of one kind over a range of days."""
    days = checked_range(request, resources, since, until)
    chosen_genre, settings = genre_filter(genre), resources.settings
    return await cached_answer(
        request, resources,
        lambda c, as_of: stats.top_movies(
            c, as_of, days, metric, chosen_genre, genre, limit, offset,
            settings.serving_min_ratings, settings.poster_base_url,
        ),
    )  # fmt: skip


PER_USER_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **PROBLEMS,
    401: documented_problem("No credential, or one that does not verify"),
    403: documented_problem("The credential does not reach this user's data"),
    404: documented_problem("The model has no such user"),
}


@router.get("/user_stats/{user_id}", responses=PER_USER_PROBLEMS)
async def user_stats(
    request: Request,
    resources: ResourcesDep,
    caller: CallerDep,
    user_id: Annotated[str, Path(examples=["user-42"])],
    since: Since = None,
    until: Until = None,
) -> UserStats:
    """One user's activity over a range of days: for that user's own bearer token, or a
    service token with the `users:read` scope."""
    user = checked_user_id(user_id)
    caller.require_user(user)
    return await one_users_stats(request, resources, user, since, until)


@router.get("/me/stats", responses=PER_USER_PROBLEMS)
async def my_stats(
    request: Request,
    resources: ResourcesDep,
    caller: CallerDep,
    since: Since = None,
    until: Until = None,
) -> UserStats:
    """The activity of the user whose bearer token this is."""
    return await one_users_stats(request, resources, caller.own_user(), since, until)


async def one_users_stats(
    request: Request, resources: Resources, user: str, since: str | None, until: str | None
) -> Any:
    days = checked_range(request, resources, since, until)
    return await cached_answer(
        request, resources, lambda c, as_of: stats.user_stats(c, as_of, user, days),
        key=f"/api/user_stats/{user}", personal=True,
    )  # fmt: skip


@router.get("/emotion_trends", responses=PROBLEMS)
async def emotion_trends(
    request: Request,
    resources: ResourcesDep,
    since: Since = None,
    until: Until = None,
    granularity: Granularity = "day",
    movie_id: Annotated[int | None, Query(gt=0, lt=2**63, examples=[550])] = None,
    genre: Genre = None,
) -> EmotionTrends:
    """How comments felt, per day or week: counts and shares by polarity, mean score, rating."""
    days = checked_range(request, resources, since, until)
    chosen_genre = genre_filter(genre)
    return await cached_answer(
        request, resources,
        lambda c, as_of: stats.emotion_trends(
            c, as_of, days, granularity, movie_id, chosen_genre, genre
        ),
    )  # fmt: skip


def checked_range(
    request: Request, resources: Resources, since: str | None, until: str | None
) -> DayRange:
    route = request.scope["route"]
    allowed = {param.alias for param in route.dependant.query_params}
    check_single(request.query_params.multi_items())
    check_known(request.query_params.keys(), allowed)
    settings = resources.settings
    return day_range(
        since, until, datetime.now(UTC).date(),
        settings.serving_default_days, settings.serving_max_range_days,
    )  # fmt: skip


Compute = Callable[[asyncpg.Connection, datetime | None], Awaitable[BaseModel]]


async def cached_answer(
    request: Request,
    resources: Resources,
    compute: Compute,
    key: str | None = None,
    personal: bool = False,
) -> Any:
    """`key` names the answer (the request's path by default)."""
    settings, cache = resources.settings, answer_cache(request)
    question = question_of(key or request.url.path, request)
    try:
        async with asyncio.timeout(settings.serving_timeout_seconds):
            as_of = await cache.as_of(lambda: read_as_of(resources))
            if etag_matches(request.headers.get("if-none-match"), entity_tag(as_of, question)):
                return Response(
                    status_code=304, headers=caching(settings, as_of, question, personal)
                )

            async def computed() -> bytes:  # bounded also when it runs as a background refresh
                async with asyncio.timeout(settings.serving_timeout_seconds):
                    async with resources.postgres.connection() as connection:
                        answer = await compute(connection, as_of)
                return answer.model_dump_json().encode()

            kept = await cache.answer(question, as_of, computed)
    except stats.UnknownUser as error:
        return problem(404, "unknown-user", "Unknown user", f"no facts of user {error}", "user_id")
    except (StoreUnavailable, TimeoutError, asyncpg.PostgresError, OSError):
        retry = str(max(1, round(settings.serving_timeout_seconds)))
        return problem(
            503, "unavailable", "Statistics unavailable",
            "the statistics store did not answer in time; retry later",
            headers={"Retry-After": retry},
        )  # fmt: skip
    headers = caching(settings, kept.as_of, question, personal)
    if etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return Response(kept.body, media_type="application/json", headers=headers)


def caching(
    settings: Settings, as_of: datetime | None, question: str, personal: bool
) -> dict[str, str]:
    """A `personal` answer is for its user alone: no shared cache on the way may keep it."""
    etag, max_age = entity_tag(as_of, question), f"max-age={settings.serving_cache_seconds}"
    if personal:
        return {"ETag": etag, "Cache-Control": f"private, {max_age}", "Vary": "Authorization"}
    return {"ETag": etag, "Cache-Control": max_age}


def answer_cache(request: Request) -> AnswerCache:
    return request.app.state.answer_cache


async def read_as_of(resources: Resources) -> datetime | None:
    async with resources.postgres.connection() as connection:
        return await queries.as_of(connection, resources.settings.spark_checkpoint_dir)


def question_of(key: str, request: Request) -> str:
    """What an answer is kept by: the route's key, the query, and today's date, as the default
    range moves with it."""
    query = sorted(request.query_params.multi_items())
    return f"{datetime.now(UTC).date()}|{key}|{query}"


def entity_tag(as_of: datetime | None, question: str) -> str:
    """The same question against the same state of the model has the same tag."""
    state = f"{as_of.isoformat() if as_of else '-'}|{question}"
    return f'"{hashlib.sha256(state.encode()).hexdigest()[:24]}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
