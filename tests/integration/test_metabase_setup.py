"""Metabase provisioning against the in-memory twin of Metabase's REST API: no stack needed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from itertools import combinations
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.serving.dashboard import DASHBOARD
from app.serving.metabase import (
    KINDS,
    CardSpec,
    DashboardSpec,
    MetabaseAdmin,
    MetabaseError,
    WarehouseConnection,
    provision,
)
from tests.fake_metabase import SESSION_HEADER, FakeMetabase
from tests.support import REPO_ROOT

ADMIN = MetabaseAdmin("analyst@example.com", "admin-Secret-4821")
WAREHOUSE = WarehouseConnection(
    name="Movie warehouse",
    host="postgres",
    port=5432,
    dbname="movies",
    user="metabase_reader",
    password="warehouse-Secret-9377",
)
CARDS = (
    CardSpec("Reviews per day", "SELECT day, count(*) FROM reviews GROUP BY day", "line"),
    CardSpec("Top movies", "SELECT title, rating FROM movies ORDER BY rating DESC", "table"),
    CardSpec("Reviews in total", "SELECT count(*) FROM reviews", "scalar"),
)
SPEC = DashboardSpec(collection="Movie pipeline", dashboard="Reviews", cards=CARDS)
CREATING_ENDPOINTS = [
    ("POST", "/api/database"),
    ("POST", "/api/collection"),
    ("POST", "/api/card"),
    ("POST", "/api/dashboard"),
]


@pytest.fixture
def metabase() -> Iterator[FakeMetabase]:
    with FakeMetabase() as fake:
        yield fake


@pytest.fixture
async def client(metabase: FakeMetabase) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=metabase.base_url, timeout=5) as http:
        yield http


def named(objects: dict[int, dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [item for item in objects.values() if item["name"] == name]


def overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        a["col"] < b["col"] + b["size_x"]
        and b["col"] < a["col"] + a["size_x"]
        and a["row"] < b["row"] + b["size_y"]
        and b["row"] < a["row"] + a["size_y"]
    )


def creations(metabase: FakeMetabase, dashboard_id: int) -> list[int]:
    """How often each creating endpoint, then the dashboard's PUT, was called so far."""
    counts = [metabase.count(method, path) for method, path in CREATING_ENDPOINTS]
    return [*counts, metabase.count("PUT", f"/api/dashboard/{dashboard_id}")]


async def test_a_first_run_creates_the_admin_database_collection_cards_and_dashboard(
    metabase: FakeMetabase, client: httpx.AsyncClient
) -> None:
    report = await provision(client, ADMIN, WAREHOUSE, SPEC)

    assert report.admin_created
    assert metabase.count("POST", "/api/setup") == 1
    assert metabase.users[ADMIN.email]["password"] == ADMIN.password
    [database] = named(metabase.databases, WAREHOUSE.name)
    assert database["engine"] == "postgres"
    assert database["details"] == {
        "host": "postgres",
        "port": 5432,
        "dbname": "movies",
        "user": "metabase_reader",
        "password": WAREHOUSE.password,
        "ssl": False,
    }
    [collection] = named(metabase.collections, SPEC.collection)
    assert collection["location"] == "/"
    cards = {card["name"]: card for card in metabase.cards.values()}
    assert set(cards) == {spec.name for spec in CARDS}
    for spec in CARDS:
        card = cards[spec.name]
        assert card["collection_id"] == collection["id"]
        assert card["display"] == spec.display
        assert card["dataset_query"] == {
            "type": "native",
            "database": database["id"],
            "native": {"query": spec.sql},
        }
    [dashboard] = named(metabase.dashboards, SPEC.dashboard)
    assert dashboard["collection_id"] == collection["id"]
    assert report.dashboard_id == dashboard["id"]
    dashcards = dashboard["dashcards"]
    assert sorted(dashcard["card_id"] for dashcard in dashcards) == sorted(
        card["id"] for card in cards.values()
    )
    assert all(dashcard["col"] + dashcard["size_x"] <= 24 for dashcard in dashcards)
    assert not any(overlap(a, b) for a, b in combinations(dashcards, 2))
    names = tuple(spec.name for spec in CARDS)
    assert report.created == {
        "database": (WAREHOUSE.name,),
        "collection": (SPEC.collection,),
        "card": names,
        "dashboard": (SPEC.dashboard,),
        "dashcard": names,
    }
    assert report.found == {kind: () for kind in KINDS}


async def test_a_second_run_finds_everything_and_creates_nothing(
    metabase: FakeMetabase, client: httpx.AsyncClient
) -> None:
    first = await provision(client, ADMIN, WAREHOUSE, SPEC)
    after_first = creations(metabase, first.dashboard_id)

    second = await provision(client, ADMIN, WAREHOUSE, SPEC)

    assert creations(metabase, first.dashboard_id) == after_first == [1, 1, len(CARDS), 1, 1]
    assert metabase.count("POST", "/api/setup") == 1
    assert not second.admin_created
    assert not second.created_anything
    assert second.found == first.created
    assert second.dashboard_id == first.dashboard_id
    assert len(metabase.dashboards[first.dashboard_id]["dashcards"]) == len(CARDS)


async def test_a_wrong_admin_password_is_refused_without_revealing_a_password(
    metabase: FakeMetabase, client: httpx.AsyncClient
) -> None:
    await provision(client, ADMIN, WAREHOUSE, SPEC)
    wrong = MetabaseAdmin(ADMIN.email, "not-the-Password-5150")

    with pytest.raises(MetabaseError) as refused:
        await provision(client, wrong, WAREHOUSE, SPEC)

    message = str(refused.value)
    for password in (wrong.password, ADMIN.password, WAREHOUSE.password):
        assert password not in message
        assert password not in repr(wrong) + repr(WAREHOUSE)
    assert "401" in message
    assert "POST /api/session" in message
    assert ADMIN.email in message
    assert "METABASE_ADMIN_EMAIL" in message
    assert metabase.count("POST", "/api/database") == 1  # it stopped at the login


async def test_a_refused_call_names_its_endpoint_and_status(
    metabase: FakeMetabase, client: httpx.AsyncClient
) -> None:
    blank_sql = DashboardSpec(SPEC.collection, SPEC.dashboard, (CardSpec("Empty", " ", "table"),))

    with pytest.raises(MetabaseError) as refused:
        await provision(client, ADMIN, WAREHOUSE, blank_sql)

    message = str(refused.value)
    assert "POST /api/card answered 400" in message
    assert ADMIN.password not in message
    assert WAREHOUSE.password not in message


async def add_card_by_hand(client: httpx.AsyncClient, dashboard_id: int) -> dict[str, Any]:
    """What an analyst does in Metabase's UI: save a question and drop it on the dashboard."""
    login = {"username": ADMIN.email, "password": ADMIN.password}
    session = (await client.post("/api/session", json=login)).raise_for_status().json()["id"]
    headers = {SESSION_HEADER: session}
    question = {
        "name": "Hand-made",
        "display": "bar",
        "collection_id": None,
        "visualization_settings": {"graph.dimensions": ["genre"]},
        "dataset_query": {
            "type": "native",
            "database": 1,
            "native": {"query": "SELECT genre, count(*) FROM movies GROUP BY genre"},
        },
    }
    card = (await client.post("/api/card", json=question, headers=headers)).json()
    path = f"/api/dashboard/{dashboard_id}"
    dashboard = (await client.get(path, headers=headers)).json()
    by_hand = {"id": -1, "card_id": card["id"], "row": 30, "col": 4, "size_x": 8, "size_y": 5}
    dashcards = [*dashboard["dashcards"], by_hand]
    response = await client.put(path, json={"dashcards": dashcards}, headers=headers)
    answered = response.raise_for_status().json()["dashcards"]
    [placed] = [dashcard for dashcard in answered if dashcard["card_id"] == card["id"]]
    del placed["card"]  # the answer nests the card; the stored dashcard refers to it by id
    return placed


async def test_a_dashboard_card_added_by_hand_survives_re_runs(
    metabase: FakeMetabase, client: httpx.AsyncClient
) -> None:
    first = await provision(client, ADMIN, WAREHOUSE, SPEC)
    by_hand = await add_card_by_hand(client, first.dashboard_id)
    ours = {d["id"]: d for d in metabase.dashboards[first.dashboard_id]["dashcards"]}
    del ours[by_hand["id"]]
    puts = metabase.count("PUT", f"/api/dashboard/{first.dashboard_id}")

    unchanged = await provision(client, ADMIN, WAREHOUSE, SPEC)
    grown = DashboardSpec(
        SPEC.collection, SPEC.dashboard, (*CARDS, CardSpec("Comments", "SELECT 1", "table"))
    )
    extended = await provision(client, ADMIN, WAREHOUSE, grown)

    assert not unchanged.created_anything
    assert metabase.count("PUT", f"/api/dashboard/{first.dashboard_id}") == puts + 1
    assert extended.created["card"] == extended.created["dashcard"] == ("Comments",)
    assert extended.found["dashcard"] == tuple(spec.name for spec in CARDS)
    dashcards = {d["id"]: d for d in metabase.dashboards[first.dashboard_id]["dashcards"]}
    assert dashcards[by_hand["id"]] == by_hand
    for dashcard_id, dashcard in ours.items():
        assert dashcards[dashcard_id] == dashcard
    [comments] = [d for d in dashcards.values() if d["id"] not in ours and d != by_hand]
    assert comments["card_id"] == named(metabase.cards, "Comments")[0]["id"]
    assert comments["row"] >= by_hand["row"] + by_hand["size_y"]  # below everything there


async def test_the_twin_wants_a_session_and_a_native_query(
    metabase: FakeMetabase, client: httpx.AsyncClient
) -> None:
    await provision(client, ADMIN, WAREHOUSE, SPEC)
    login = {"username": ADMIN.email, "password": ADMIN.password}
    session = (await client.post("/api/session", json=login)).json()["id"]
    question = {"name": "No SQL", "display": "table", "visualization_settings": {}}
    no_query = {**question, "dataset_query": {"type": "native", "database": 1, "native": {}}}

    anonymous = await client.get("/api/card")
    forged = await client.get("/api/card", headers={SESSION_HEADER: "forged"})
    refused = await client.post("/api/card", json=no_query, headers={SESSION_HEADER: session})

    assert anonymous.status_code == forged.status_code == 401
    assert refused.status_code == 400
    assert named(metabase.cards, "No SQL") == []


def metabase_setup(url: str, password: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "METABASE_ADMIN_EMAIL": "ops@example.com",
           "METABASE_ADMIN_PASSWORD": password}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "app.jobs", "metabase-setup", "--url", url],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_command_provisions_the_pipeline_dashboard_once(metabase: FakeMetabase) -> None:
    first = metabase_setup(metabase.base_url, "ops-Secret-5512")
    assert first.returncode == 0, first.stderr
    second = metabase_setup(metabase.base_url, "ops-Secret-5512")
    assert second.returncode == 0, second.stderr

    for endpoint in CREATING_ENDPOINTS:
        assert metabase.count(*endpoint) == (len(DASHBOARD.cards) if "card" in endpoint[1] else 1)
    [database] = named(metabase.databases, "Movie pipeline analytics")
    assert database["details"]["user"] == Settings().analytics_role
    [dashboard] = named(metabase.dashboards, DASHBOARD.dashboard)
    assert len(dashboard["dashcards"]) == len(DASHBOARD.cards)
    sql = " ".join(card["dataset_query"]["native"]["query"] for card in metabase.cards.values())
    assert "analytics." in sql and "stg_" not in sql and "fact_user_event" not in sql
    assert "card: 0 created" in second.stdout
    assert "ops-Secret-5512" not in first.stdout + first.stderr + second.stdout + second.stderr


def test_the_command_refuses_to_run_without_an_admin_password(metabase: FakeMetabase) -> None:
    env = {k: v for k, v in os.environ.items() if k != "METABASE_ADMIN_PASSWORD"}
    result = subprocess.run(
        [sys.executable, "-m", "app.jobs", "metabase-setup", "--url", metabase.base_url],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "METABASE_ADMIN_PASSWORD" in result.stderr
    assert metabase.count("POST", "/api/session") == 0
