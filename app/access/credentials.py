"""Who is calling: a user, by a bearer token of the app's identity provider, or a service, by
a service token. Pure: the keys to verify with are given (app/access/jwks.py fetches them)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

import jwt

USERS_READ = "users:read"  # the scope that lets a service read any user's statistics
MAX_TOKEN_CHARS = 8192  # bounds the work of one verification
# What the identity provider may sign with through its JWKS; never HS* (the public key would
# become an HMAC secret) and never `none`.
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class Unauthenticated(Exception):
    """401: no credential, or one that does not verify. The reason stays in the exception, for
    tests and debugging; the answer never carries it, so it tells nothing about a user."""

    def __init__(self, reason: str, *, presented: bool = True) -> None:
        super().__init__(reason)
        self.presented = presented


class Forbidden(Exception):
    """403: a valid credential that does not reach this data."""


@dataclass(frozen=True)
class Caller:
    user_id: str | None = None
    service: str | None = None
    scopes: frozenset[str] = frozenset()

    def require_user(self, user_id: str) -> None:
        if self.user_id != user_id and USERS_READ not in self.scopes:
            raise Forbidden("this credential does not reach that user's data")

    def own_user(self) -> str:
        if self.user_id is None:
            raise Forbidden("a service token has no user of its own; ask for a user by id")
        return self.user_id


@dataclass(frozen=True)
class TokenRules:
    issuer: str
    audience: str
    user_claim: str
    leeway_seconds: int


def bearer_token(authorization: str | None) -> str:
    if authorization is None:
        raise Unauthenticated("no Authorization header", presented=False)
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("not a bearer credential")
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthenticated("token too long")
    return token


def token_algorithm(token: str) -> tuple[str, str | None]:
    """The algorithm and key id the token's header claims; not yet trusted."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"malformed token: {error}") from None
    algorithm, key_id = header.get("alg"), header.get("kid")
    if not isinstance(algorithm, str) or algorithm.lower() == "none":
        raise Unauthenticated("unsigned token")
    return algorithm, key_id if isinstance(key_id, str) else None


def verified_user(
    token: str, key: object, algorithm: str, rules: TokenRules
) -> tuple[Caller, float]:
    """The token's user and the time (epoch seconds) it expires, once its signature (by
    `key`, with `algorithm` alone), issuer, audience and expiry hold."""
    try:
        claims = jwt.decode(
            token,
            key,  # type: ignore[arg-type]
            algorithms=[algorithm],
            audience=rules.audience,
            issuer=rules.issuer,
            leeway=rules.leeway_seconds,
            options={"require": ["exp", "iss", "aud", rules.user_claim]},
        )
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"token refused: {error}") from None
    user_id = claims[rules.user_claim]
    if not isinstance(user_id, str) or not user_id:
        raise Unauthenticated(f"claim {rules.user_claim} is not a user id")
    return Caller(user_id=user_id), float(claims["exp"])


class ServiceTokens:
    """Service tokens, known by their SHA-256 only, so a lookup compares digests, not secrets."""

    def __init__(self, tokens: Mapping[str, tuple[str, frozenset[str]]]) -> None:
        self._by_digest = {digest(token): caller for token, caller in tokens.items()}

    @classmethod
    def from_json(cls, text: str | None) -> ServiceTokens:
        """SERVICE_TOKENS: {"name": {"token": "...", "scopes": ["users:read"]}}."""
        if not text:
            return cls({})
        try:
            declared = json.loads(text)
            tokens = {
                entry["token"]: (name, frozenset(entry.get("scopes", ())))
                for name, entry in declared.items()
            }
        except (ValueError, TypeError, KeyError, AttributeError):
            # The value is a secret: the error names the setting, never its content.
            raise ValueError(
                'SERVICE_TOKENS must be a JSON object {"name": {"token": "...", "scopes": [...]}}'
            ) from None
        if any(not isinstance(token, str) or len(token) < 16 for token in tokens):
            raise ValueError("SERVICE_TOKENS: each token must be a string of 16 characters or more")
        return cls(tokens)

    def caller(self, token: str) -> Caller | None:
        found = self._by_digest.get(digest(token))
        if found is None:
            return None
        name, scopes = found
        return Caller(service=name, scopes=scopes)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
