"""A user's statistics go to that user's bearer token, or to a service token with the
`users:read` scope, and to nobody else, on the running service. Tokens come from a fake
identity provider on loopback (its JWKS, RS256), or from `python -m app.jobs user-token`
(the local stack's HS256 secret)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import jwt
import orjson
import pytest

from tests.fake_identity import KEY_ID, FakeIdentityProvider
from tests.integration.serving_support import (
    check_user_stats,
    insert_facts,
    new_catalogue,
    random_facts,
)
from tests.support import REPO_ROOT, ServiceProcess, free_port

READER = f"svc_reader_{uuid.uuid4().hex}"
NO_SCOPE = f"svc_noscope_{uuid.uuid4().hex}"
SERVICE_TOKENS = {
    "backend": {"token": READER, "scopes": ["users:read"]},
    "reporting": {"token": NO_SCOPE, "scopes": []},
}
STATS_FIELDS = {"events", "watch_seconds", "movies_watched", "first_seen", "top_genres"}


@pytest.fixture(scope="module")
def idp() -> Iterator[FakeIdentityProvider]:
    with FakeIdentityProvider() as provider:
        yield provider


@pytest.fixture(scope="module")
def guarded(idp) -> Iterator[ServiceProcess]:
    """A service that trusts the provider's JWKS alone: no shared secret to confuse it with."""
    process = ServiceProcess(
        RUN_CONSUMERS="false", RUN_SCHEDULER="false", AUTH_HS256_SECRET="",
        SERVICE_TOKENS=json.dumps(SERVICE_TOKENS), **idp.env(),
    )  # fmt: skip
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def user_with_facts(pg, unique):
    catalogue = await new_catalogue(pg, unique)
    await insert_facts(pg, random_facts(catalogue, 200, seed=7))
    return catalogue


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged_hs256(claims: dict, secret: bytes) -> str:
    """The algorithm-confusion attack: HS256 signed with the provider's public key as the
    secret. Built by hand: PyJWT itself refuses to sign so."""
    header = b64(orjson.dumps({"alg": "HS256", "typ": "JWT", "kid": KEY_ID}))
    numeric = {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in claims.items()}
    payload = b64(orjson.dumps(numeric))
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def unsigned(claims: dict) -> str:
    return jwt.encode(claims, None, algorithm="none")


def refused_tokens(idp: FakeIdentityProvider, user: str) -> dict[str, str]:
    return {
        "malformed": "not-a-token",
        "three garbled parts": "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl",
        "expired": idp.token(user, exp=idp.claims(user)["iat"] - timedelta(minutes=5)),
        "signed by another key": idp.stranger_token(user),
        "alg none": unsigned(idp.claims(user)),
        "HS256 with the public key": forged_hs256(idp.claims(user), idp.public_pem),
        "another audience": idp.token(user, aud="some-other-api"),
        "another issuer": idp.token(user, iss="https://elsewhere.test"),
        "no subject": idp.token(user, sub=None),
    }


def get(service: ServiceProcess, path: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{service.base_url}{path}", headers=headers, timeout=10)


def assert_refused(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert not STATS_FIELDS & set(response.json())


async def test_without_a_credential_it_is_401_with_a_challenge_saying_nothing_of_the_user(
    guarded, user_with_facts
):
    known = get(guarded, f"/api/user_stats/{user_with_facts.users[0]}")
    unknown = get(guarded, f"/api/user_stats/nobody-{uuid.uuid4().hex}")
    mine = get(guarded, "/api/me/stats")
    for response in (known, unknown, mine):
        assert_refused(response, 401)
        assert response.headers["www-authenticate"] == 'Bearer realm="movie-pipeline"'
    assert known.content == unknown.content == mine.content


async def test_tokens_that_do_not_verify_are_401_whoever_they_name(idp, guarded, user_with_facts):
    user = user_with_facts.users[0]
    for kind, token in refused_tokens(idp, user).items():
        known = get(guarded, f"/api/user_stats/{user}", token)
        unknown = get(guarded, f"/api/user_stats/nobody-{uuid.uuid4().hex}", token)
        assert_refused(known, 401)
        assert known.headers["www-authenticate"].endswith('error="invalid_token"'), kind
        assert known.content == unknown.content, kind


async def test_another_users_token_is_403_whether_or_not_the_user_exists(
    idp, guarded, user_with_facts
):
    someone_else = idp.token(user_with_facts.users[1])
    known = get(guarded, f"/api/user_stats/{user_with_facts.users[0]}", someone_else)
    unknown = get(guarded, f"/api/user_stats/nobody-{uuid.uuid4().hex}", someone_else)
    assert_refused(known, 403)
    assert known.content == unknown.content


async def test_the_users_own_token_reads_the_same_figures_as_sql_over_the_facts(
    idp, guarded, pg, user_with_facts
):
    catalogue, last = user_with_facts, user_with_facts.first_day + timedelta(days=13)
    for user in catalogue.users:
        headers = {"Authorization": f"Bearer {idp.token(user)}"}
        async with httpx.AsyncClient(base_url=guarded.base_url, headers=headers) as client:
            await check_user_stats(client, pg, user, catalogue.first_day, last)
            query = {"since": catalogue.first_day.isoformat(), "until": last.isoformat()}
            by_id = await client.get(f"/api/user_stats/{user}", params=query)
            mine = await client.get("/api/me/stats", params=query)
        assert mine.status_code == 200 and mine.json() == by_id.json()
        # Personal: no shared cache on the way may keep it for another user.
        assert mine.headers["cache-control"].startswith("private")
        assert "Authorization" in mine.headers["vary"]


async def test_a_token_a_little_past_its_expiry_is_within_the_clock_leeway(
    idp, guarded, user_with_facts
):
    user = user_with_facts.users[0]
    just_expired = idp.token(user, exp=idp.claims(user)["iat"] - timedelta(seconds=10))
    assert get(guarded, f"/api/user_stats/{user}", just_expired).status_code == 200


async def test_a_service_token_reads_users_with_its_scope_and_not_without(
    guarded, pg, user_with_facts
):
    catalogue, last = user_with_facts, user_with_facts.first_day + timedelta(days=13)
    headers = {"Authorization": f"Bearer {READER}"}
    async with httpx.AsyncClient(base_url=guarded.base_url, headers=headers) as client:
        for user in catalogue.users:
            await check_user_stats(client, pg, user, catalogue.first_day, last)
    assert_refused(get(guarded, f"/api/user_stats/{catalogue.users[0]}", NO_SCOPE), 403)
    assert_refused(get(guarded, "/api/me/stats", READER), 403)  # a service is no user


async def test_the_providers_keys_are_fetched_once_not_per_token(idp, guarded, user_with_facts):
    user = user_with_facts.users[0]
    before = idp.jwks_requests
    for _ in range(20):
        assert get(guarded, f"/api/user_stats/{user}", idp.token(user)).status_code == 200
    made_up = [
        jwt.encode(idp.claims(user), idp.key, algorithm="RS256", headers={"kid": f"k{n}"})
        for n in range(20)
    ]
    for token in made_up:
        assert_refused(get(guarded, f"/api/user_stats/{user}", token), 401)
    # At most one refetch for the unknown key ids, and none for the known one.
    assert idp.jwks_requests - before <= 1


async def test_a_token_minted_for_the_local_stack_reads_the_users_own_stats(
    service, user_with_facts
):
    user = user_with_facts.users[2]
    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.jobs", "user-token", user, "--minutes", "5",
        cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    printed, _ = await command.communicate()
    assert command.returncode == 0
    minted = printed.decode().strip()
    first = user_with_facts.first_day
    days = f"?since={first}&until={first + timedelta(days=13)}"
    mine = get(service, f"/api/me/stats{days}", minted)
    assert mine.status_code == 200, mine.text
    assert mine.json()["user_id"] == user
    assert get(service, f"/api/user_stats/{user_with_facts.users[3]}", minted).status_code == 403


def test_while_the_providers_keys_cannot_be_had_a_token_is_503_not_401(idp):
    nowhere = ServiceProcess(
        RUN_CONSUMERS="false", RUN_SCHEDULER="false", AUTH_HS256_SECRET="",
        **{**idp.env(), "AUTH_JWKS_URL": f"http://127.0.0.1:{free_port()}/jwks.json"},
    )  # fmt: skip
    nowhere.start()
    try:
        response = get(nowhere, "/api/user_stats/someone", idp.token("someone"))
    finally:
        nowhere.stop()
    assert_refused(response, 503)
    assert response.headers["retry-after"]
