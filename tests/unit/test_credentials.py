"""The verification of bearer credentials, without a server: a shared HS256 secret and service
tokens (the JWKS path runs against a fake identity provider in tests/e2e/test_user_access.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from app.access.authenticator import Authenticator
from app.access.credentials import (
    MAX_TOKEN_CHARS,
    USERS_READ,
    Caller,
    Forbidden,
    ServiceTokens,
    TokenRules,
    Unauthenticated,
)
from app.access.minting import mint_user_token

SECRET = "a-shared-secret-long-enough-for-hs512-" + "s" * 32
RULES = TokenRules("movie-pipeline", "movie-pipeline-api", "sub", leeway_seconds=30)
SERVICE = "svc_" + "s" * 40
AUTHENTICATOR = Authenticator(
    RULES, ServiceTokens({SERVICE: ("backend", frozenset({USERS_READ}))}), None, SECRET
)


def minted(user: str = "u-1", minutes: float = 5, secret: str = SECRET) -> str:
    return mint_user_token(secret, RULES, user, timedelta(minutes=minutes))


def hs512() -> str:
    claims = {"sub": "u-1", "iss": RULES.issuer, "aud": RULES.audience,
              "exp": datetime.now(UTC) + timedelta(minutes=1)}  # fmt: skip
    return jwt.encode(claims, SECRET, algorithm="HS512")


async def caller(header: str | None) -> Caller:
    return await AUTHENTICATOR.caller(header)


async def test_a_minted_token_names_its_user():
    assert await caller(f"Bearer {minted('u-7')}") == Caller(user_id="u-7")
    assert await caller(f"bearer   {minted('u-7')}  ") == Caller(user_id="u-7")


async def test_a_service_token_is_its_service_with_its_scopes():
    assert await caller(f"Bearer {SERVICE}") == Caller(
        service="backend", scopes=frozenset({USERS_READ})
    )


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic dTpw",
        "Bearer",
        f"Bearer {minted(secret='another-secret-of-at-least-32-chars')}",
        f"Bearer {minted(minutes=-1)}",  # past the 30 s leeway
        f"Bearer {hs512()}",  # HS, but not the one algorithm the secret signs with
        f"Bearer {'a' * (MAX_TOKEN_CHARS + 1)}",
        f"Bearer {jwt.encode({'sub': 'u-1'}, None, algorithm='none')}",
    ],
)
async def test_what_does_not_verify_is_unauthenticated(header):
    with pytest.raises(Unauthenticated) as refused:
        await caller(header)
    assert refused.value.presented is (header not in (None,))


async def test_an_asymmetric_token_needs_a_jwks():
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode({"sub": "u-1"}, key, algorithm="RS256")
    with pytest.raises(Unauthenticated, match="without a JWKS"):
        await caller(f"Bearer {token}")


def test_a_user_reaches_their_own_data_and_a_scoped_service_anyones():
    Caller(user_id="u-1").require_user("u-1")
    Caller(service="backend", scopes=frozenset({USERS_READ})).require_user("u-2")
    with pytest.raises(Forbidden):
        Caller(user_id="u-1").require_user("u-2")
    with pytest.raises(Forbidden):
        Caller(service="reporting").require_user("u-2")
    with pytest.raises(Forbidden):
        Caller(service="backend", scopes=frozenset({USERS_READ})).own_user()


async def test_a_verified_token_is_kept_only_until_it_expires():
    strict = TokenRules(RULES.issuer, RULES.audience, "sub", leeway_seconds=0)
    authenticator = Authenticator(strict, ServiceTokens({}), None, SECRET)
    token = mint_user_token(SECRET, strict, "u-9", timedelta(seconds=1))
    assert await authenticator.caller(f"Bearer {token}") == Caller(user_id="u-9")
    assert await authenticator.caller(f"Bearer {token}") == Caller(user_id="u-9")  # kept
    await asyncio.sleep(1.1)
    with pytest.raises(Unauthenticated):
        await authenticator.caller(f"Bearer {token}")
