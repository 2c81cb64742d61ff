"""A fake identity provider served over real HTTP on loopback: its JWKS, and tokens signed
with its RSA key (or with a key it never published), as the app's real provider would sign.

    with FakeIdentityProvider() as idp:
        env = {"AUTH_JWKS_URL": idp.jwks_url, "AUTH_ISSUER": idp.issuer, ...}
        token = idp.token("user-42")
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.loopback import LoopbackServer, ServedTwin

ISSUER = "https://identity.test"
AUDIENCE = "movie-pipeline-api"
KEY_ID = "signing-1"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeIdentityProvider(ServedTwin):
    def __init__(self) -> None:
        self.issuer, self.audience = ISSUER, AUDIENCE
        self.key = rsa_key()
        self.stranger_key = rsa_key()  # signs tokens, but is in no published JWKS
        self._lock = threading.Lock()
        self.jwks_requests = 0
        app = Starlette(routes=[Route("/.well-known/jwks.json", self._jwks)])
        self.server = LoopbackServer(app, "identity provider")
        self.jwks_url = f"http://127.0.0.1:{self.server.port}/.well-known/jwks.json"

    @property
    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def env(self) -> dict[str, str]:
        """A service's settings that trust this provider."""
        return {"AUTH_JWKS_URL": self.jwks_url, "AUTH_ISSUER": self.issuer,
                "AUTH_AUDIENCE": self.audience}  # fmt: skip

    def claims(self, user: str, lifetime: timedelta = timedelta(minutes=10)) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {"iss": self.issuer, "aud": self.audience, "sub": user, "iat": now,
                "exp": now + lifetime}  # fmt: skip

    def token(self, user: str, **changes: Any) -> str:
        """A token for `user`, signed with the published key; `changes` alter its claims."""
        claims = {**self.claims(user), **changes}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KEY_ID})

    def stranger_token(self, user: str) -> str:
        """Well formed and current, under the published key id, but signed by another key."""
        return jwt.encode(
            self.claims(user), self.stranger_key, algorithm="RS256", headers={"kid": KEY_ID}
        )

    async def _jwks(self, _request: Request) -> JSONResponse:
        with self._lock:
            self.jwks_requests += 1
        public = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return JSONResponse({"keys": [{**public, "kid": KEY_ID, "alg": "RS256", "use": "sig"}]})
