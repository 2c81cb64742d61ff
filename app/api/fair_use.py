"""Fair use: per-client request limits on the public listener, counted by `limits` in this
process (so with API_WORKERS processes, a client may reach each one's limit).

The client is its address, as uvicorn gives it: the peer, or the forwarded address from a
trusted proxy (TRUSTED_PROXIES). A refusal is 429 with Retry-After and the IETF RateLimit
headers, and is counted in `requests_rate_limited_total`.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from app.access.credentials import ServiceTokens
from app.access.listeners import on_operators_listener
from app.api.problems import problem
from app.metrics import RATE_LIMITED


class FairUse:
    """An ASGI gate in front of `app`: one named limit, per client address."""

    def __init__(
        self,
        app: ASGIApp,
        name: str,
        limits: str,
        ops_port: int,
        exempt: ServiceTokens | None = None,
        enabled: bool = True,
    ) -> None:
        """`exempt`: services whose token is presented are not limited (the app's backend
        asks for many users from one address)."""
        self.app, self.name, self._ops_port, self._exempt = app, name, ops_port, exempt
        self._items: list[RateLimitItem] = parse_many(limits) if enabled else []
        # Counts in this process, each expiring with its window.
        self._limiter = FixedWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self._items
            and scope["type"] == "http"
            and not on_operators_listener(scope, self._ops_port)
        ):
            refused = self._refused_by(scope)
            if refused is not None:
                RATE_LIMITED.labels(limit=self.name).inc()
                await self._too_many(refused, scope)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refused_by(self, scope: Scope) -> RateLimitItem | None:
        if scope["method"] == "OPTIONS" or self._is_exempt(scope):
            return None  # a CORS preflight comes with the request it precedes
        for item in self._items:
            if not self._limiter.hit(item, self.name, client_address(scope)):
                return item
        return None

    def _is_exempt(self, scope: Scope) -> bool:
        if self._exempt is None:
            return False
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                return scheme.lower() == "bearer" and self._exempt.caller(token.strip()) is not None
        return False

    def _too_many(self, item: RateLimitItem, scope: Scope) -> ASGIApp:
        reset, _ = self._limiter.get_window_stats(item, self.name, client_address(scope))
        seconds = max(1, math.ceil(reset - time.time()))
        window = item.get_expiry()
        headers = {
            "Retry-After": str(seconds),
            "RateLimit-Policy": f'"{self.name}";q={item.amount};w={window}',
            "RateLimit": f'"{self.name}";r=0;t={seconds}',
        }
        return problem(
            429, "rate-limited", "Too many requests",
            f"over the {self.name} limit of {item.amount} requests per {window} s from one "
            f"client; retry after {seconds} s",
            headers=headers,
        )  # fmt: skip


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"  # a Unix socket has no address
