"""Fair use on the running service: a client over its limit gets 429 with Retry-After and the
RateLimit headers, while another client is served as usual; the forwarded address counts only
from a trusted proxy; operators and the app's backend are not limited."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.event_factory import new_event
from tests.support import ServiceProcess

BACKEND = f"svc_backend_{uuid.uuid4().hex}"
LIMITS = {
    "RATE_LIMIT_READ": "5/minute",
    "RATE_LIMIT_INGEST": "3/minute",
    "SERVICE_TOKENS": json.dumps({"backend": {"token": BACKEND, "scopes": ["users:read"]}}),
}


def client_at(address: str, base_url: str) -> httpx.Client:
    """A client whose connections leave from `address`, one more host on loopback."""
    return httpx.Client(
        base_url=base_url, transport=httpx.HTTPTransport(local_address=address), timeout=10
    )


@pytest.fixture(scope="module")
def limited() -> Iterator[ServiceProcess]:
    process = ServiceProcess(RUN_SCHEDULER="false", **LIMITS)
    process.start()
    yield process
    process.stop()


def rate_limited_total(service: ServiceProcess, limit: str) -> float:
    text = httpx.get(f"{service.ops_url}/metrics", timeout=10).text
    prefix = f'requests_rate_limited_total{{limit="{limit}"}} '
    found = [line for line in text.splitlines() if line.startswith(prefix)]
    return float(found[0].removeprefix(prefix)) if found else 0.0


def test_a_reader_over_its_limit_gets_429_while_another_is_served(limited):
    counted_before = rate_limited_total(limited, "read")
    with (
        client_at("127.0.0.2", limited.base_url) as greedy,
        client_at("127.0.0.3", limited.base_url) as other,
    ):
        answers = [greedy.get("/api/top_movies").status_code for _ in range(8)]
        refused = greedy.get("/api/top_movies")
        meanwhile = other.get("/api/top_movies")
    assert answers[:5] == [200] * 5 and set(answers[5:]) == {429}
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-policy"] == '"read";q=5;w=60'
    assert refused.headers["ratelimit"] == f'"read";r=0;t={refused.headers["retry-after"]}'
    assert meanwhile.status_code == 200
    assert rate_limited_total(limited, "read") - counted_before == 4


def test_ingest_has_a_limit_of_its_own(limited):
    events = [new_event("click", f"fair-{uuid.uuid4().hex[:8]}") for _ in range(5)]
    with client_at("127.0.0.4", limited.base_url) as sender:
        statuses = [sender.post("/events", json=event).status_code for event in events]
        reading = sender.get("/api/top_movies")  # reads keep their own count
    assert statuses == [202, 202, 202, 429, 429]
    assert reading.status_code == 200


def test_the_forwarded_address_is_ignored_from_an_untrusted_peer(limited):
    with client_at("127.0.0.5", limited.base_url) as forger:
        statuses = [
            forger.get("/health", headers={"X-Forwarded-For": f"10.9.{n}.1"}).status_code
            for n in range(7)
        ]
    assert statuses == [200] * 5 + [429] * 2


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit():
    proxy = ServiceProcess(RUN_CONSUMERS="false", RUN_SCHEDULER="false",
                           TRUSTED_PROXIES="127.0.0.6", **LIMITS)  # fmt: skip
    proxy.start()
    try:
        with client_at("127.0.0.6", proxy.base_url) as through:
            first = [
                through.get("/health", headers={"X-Forwarded-For": "192.0.2.1"}).status_code
                for _ in range(6)
            ]
            second = through.get("/health", headers={"X-Forwarded-For": "192.0.2.2"})
    finally:
        proxy.stop()
    assert first == [200] * 5 + [429]
    assert second.status_code == 200


def test_operators_and_the_apps_backend_are_not_limited(limited):
    with client_at("127.0.0.7", limited.base_url) as backend:
        backend.headers["Authorization"] = f"Bearer {BACKEND}"
        as_backend = {backend.get("/api/top_movies").status_code for _ in range(10)}
    with client_at("127.0.0.7", limited.ops_url) as operator:
        as_operator = {operator.get("/status").status_code for _ in range(10)}
    assert as_backend == {200} and as_operator == {200}
