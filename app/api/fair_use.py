"""Fair use: per-client request limits on the public listener, counted in this process (so
with API_WORKERS processes, a client may reach each one's limit).

The limits are written in the notation of the `limits` library, which parses them. Its own
in-memory counts start a thread every 10 ms to expire them: measured under wrk, that cost a
tenth of a `/health` answer. The fixed windows below, counted in a dict, cost a fortieth.

The client is its address, as uvicorn gives it: the peer, or the forwarded address from a
trusted proxy (TRUSTED_PROXIES). A refusal is 429 with Retry-After and the IETF RateLimit
headers, and is counted in `requests_rate_limited_total`.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from starlette.types import ASGIApp, Receive, Scope, Send

from app.access.credentials import ServiceTokens, Unauthenticated, bearer_token
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
        self._windows = [Window(item) for item in parse_many(limits)] if enabled else []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self._windows
            and scope["type"] == "http"
            and not on_operators_listener(scope, self._ops_port)
        ):
            refused = self._refused_by(scope)
            if refused is not None:
                RATE_LIMITED.labels(limit=self.name).inc()
                await self._too_many(refused, client_address(scope))(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refused_by(self, scope: Scope) -> Window | None:
        if scope["method"] == "OPTIONS" or self._is_exempt(scope):
            return None  # a CORS preflight comes with the request it precedes
        address, now = client_address(scope), time.monotonic()
        for window in self._windows:
            if not window.hit(address, now):
                return window
        return None

    def _is_exempt(self, scope: Scope) -> bool:
        if self._exempt is None:
            return False
        for name, value in scope["headers"]:
            if name == b"authorization":
                try:
                    token = bearer_token(value.decode("latin-1"))
                except Unauthenticated:
                    return False
                return self._exempt.caller(token) is not None
        return False

    def _too_many(self, window: Window, client: str) -> ASGIApp:
        seconds = max(1, math.ceil(window.seconds_left(client, time.monotonic())))
        item = window.item
        headers = {
            "Retry-After": str(seconds),
            "RateLimit-Policy": f'"{self.name}";q={item.amount};w={window.seconds}',
            "RateLimit": f'"{self.name}";r=0;t={seconds}',
        }
        return problem(
            429, "rate-limited", "Too many requests",
            f"over the {self.name} limit of {item.amount} requests per {window.seconds} s from "
            f"one client; retry after {seconds} s",
            headers=headers,
        )  # fmt: skip


class Window:
    """One limit's hits per client, in fixed windows that start at a client's first hit (as the
    `limits` library's). Windows that ended are swept once per window length, so memory holds
    the clients of about one window."""

    def __init__(self, item: RateLimitItem) -> None:
        self.item, self.seconds = item, item.get_expiry()
        self._hits: dict[str, tuple[float, int]] = {}  # client: its window's start, hits
        self._next_sweep = 0.0

    def hit(self, client: str, now: float) -> bool:
        if now >= self._next_sweep:
            self._hits = {c: hits for c, hits in self._hits.items() if now - hits[0] < self.seconds}
            self._next_sweep = now + self.seconds
        start, count = self._hits.get(client, (now, 0))
        if now - start >= self.seconds:
            start, count = now, 0
        self._hits[client] = (start, count + 1)
        return count < self.item.amount

    def seconds_left(self, client: str, now: float) -> float:
        start, _ = self._hits.get(client, (now, 0))
        return start + self.seconds - now


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"  # a Unix socket has no address
