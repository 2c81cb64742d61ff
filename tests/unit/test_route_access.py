"""Every route is declared public, per-user or operator, and the README's table says the same."""

from __future__ import annotations

import re

import pytest
from fastapi import APIRouter

from app.access.routes import OPERATOR_PATHS, ROUTE_ACCESS, Access
from app.config import Settings
from app.main import create_app, route_paths
from tests.support import REPO_ROOT

SETTINGS = Settings(_env_file=None, auth_hs256_secret="a-secret-of-these-tests-alone-32-chars")
README_ROW = re.compile(r"^\| `(?:GET|POST) (/\S*)` \| (public|per-user|operator)\b", re.M)


def test_every_route_of_the_service_has_an_access_class():
    paths = route_paths(create_app(SETTINGS))
    assert sorted(set(paths)) == sorted(ROUTE_ACCESS)


def test_the_service_does_not_start_with_a_route_that_has_no_class(monkeypatch):
    from app.api import web

    extra = APIRouter()
    extra.add_api_route("/unclassified", lambda: {}, methods=["GET"])
    extended = APIRouter()
    extended.include_router(web.router)
    extended.include_router(extra)
    monkeypatch.setattr(web, "router", extended)
    with pytest.raises(LookupError, match="/unclassified"):
        create_app(SETTINGS)


def test_operator_routes_have_fixed_paths_refused_by_a_set_lookup():
    operators = {path for path, access in ROUTE_ACCESS.items() if access is Access.OPERATOR}
    assert operators == OPERATOR_PATHS
    assert not any("{" in path for path in operators)


def test_the_readme_table_lists_each_route_with_its_class():
    readme = (REPO_ROOT / "README.md").read_text()
    table = {path: Access(access) for path, access in README_ROW.findall(readme)}
    assert table == ROUTE_ACCESS


def test_the_openapi_document_shows_no_operator_route():
    documented = set(create_app(SETTINGS).openapi()["paths"])
    assert documented and not documented & OPERATOR_PATHS
    assert {"/api/user_stats/{user_id}", "/api/me/stats"} <= documented
