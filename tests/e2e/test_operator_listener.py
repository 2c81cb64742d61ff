"""The internals (metrics, status, the pipeline page, the demo, readiness's detail) answer on
the operators' listener only; the public listener answers as if they did not exist."""

from __future__ import annotations

import httpx
import pytest

OPERATOR_PAGES = ["/metrics", "/status", "/", "/demo"]


@pytest.mark.parametrize("path", OPERATOR_PAGES)
def test_operator_pages_are_not_on_the_public_listener(service, path):
    public = httpx.get(f"{service.base_url}{path}", timeout=10)
    operators = httpx.get(f"{service.ops_url}{path}", timeout=10)
    assert public.status_code == 404
    assert public.headers["content-type"] == "application/problem+json"
    assert operators.status_code == 200


def test_the_public_listener_tells_readiness_without_detail(service):
    public = httpx.get(f"{service.base_url}/ready", timeout=10)
    operators = httpx.get(f"{service.ops_url}/ready", timeout=10)
    assert public.status_code == operators.status_code == 200
    assert public.json() == {"status": "ready"}
    assert set(operators.json()["dependencies"]) == {"kafka", "mongo", "postgres"}


def test_no_header_or_path_trick_reaches_an_operator_page(service):
    # The listener is known by the socket a request came in on, not by what the request says.
    tricks = [
        ("/metrics", {"Host": f"127.0.0.1:{service.ops_port}"}),
        ("/metrics", {"X-Forwarded-Port": str(service.ops_port), "X-Forwarded-For": "127.0.0.1"}),
        ("/status/", {}),
        ("/status?x=1", {}),
    ]
    for path, headers in tricks:
        response = httpx.get(f"{service.base_url}{path}", headers=headers, timeout=10)
        assert response.status_code in (404, 307), (path, headers, response.status_code)
        if response.status_code == 307:  # a trailing slash redirected to the refused path
            assert httpx.get(response.headers["location"], timeout=10).status_code == 404


def test_the_public_api_and_ingest_also_answer_on_the_operators_listener(service):
    """So the pipeline page, served there, reads the statistics from where it came from."""
    response = httpx.get(f"{service.ops_url}/api/top_movies", timeout=10)
    assert response.status_code == 200
