"""The identity provider's signing keys, fetched from its JWKS URL and kept for a while.

An unknown key id refetches the set (the provider rotated its keys), at most once per
REFETCH_SECONDS: tokens with made-up key ids must not turn into requests to the provider.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import jwt

from app.access.credentials import ASYMMETRIC, Unauthenticated

REFETCH_SECONDS = 30.0
MAX_JWKS_BYTES = 256 * 1024


class KeysUnavailable(Exception):
    """The provider's keys could not be had: the caller is not at fault (503, not 401)."""


class JwksKeys:
    def __init__(self, url: str, http: httpx.AsyncClient, cache_seconds: float) -> None:
        self._url, self._http, self._cache_seconds = url, http, cache_seconds
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        await self._http.aclose()

    async def key_for(self, key_id: str | None, algorithm: str) -> jwt.PyJWK:
        if algorithm not in ASYMMETRIC:
            raise Unauthenticated(f"algorithm {algorithm} is not accepted with the JWKS")
        now = time.monotonic()
        stale = now - self._fetched_at > self._cache_seconds
        if stale or (key_id not in self._keys and now - self._fetched_at > REFETCH_SECONDS):
            await self._refresh(stale)
        key = self._keys.get(key_id)
        if key is None:
            raise Unauthenticated("no such signing key")
        if key.algorithm_name != algorithm:
            raise Unauthenticated(f"key {key_id} signs with {key.algorithm_name}, not {algorithm}")
        return key

    async def _refresh(self, stale: bool) -> None:
        async with self._lock:  # one fetch for every request that found the keys old
            if time.monotonic() - self._fetched_at <= (0 if stale else REFETCH_SECONDS):
                return
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError, jwt.PyJWTError) as error:
                if not self._keys:
                    raise KeysUnavailable(f"JWKS at {self._url}: {error}") from None
                keys = self._keys  # keep verifying with the keys we had
            self._keys, self._fetched_at = keys, time.monotonic()

    async def _fetch(self) -> dict[str | None, jwt.PyJWK]:
        response = await self._http.get(self._url)
        response.raise_for_status()
        if len(response.content) > MAX_JWKS_BYTES:
            raise ValueError("the JWKS is too large")
        usable = [
            key
            for key in jwt.PyJWKSet.from_dict(response.json()).keys
            if key.algorithm_name in ASYMMETRIC and key.public_key_use in (None, "sig")
        ]
        keys: dict[str | None, jwt.PyJWK] = {key.key_id: key for key in usable}
        if len(usable) == 1:
            keys[None] = usable[0]  # a token without a key id, from a provider with one key
        return keys
