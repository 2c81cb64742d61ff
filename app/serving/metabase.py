"""Provisions Metabase through its REST API: the first admin, the warehouse connection, one
collection of native-SQL cards and a dashboard holding them.

Everything is found by name before anything is created, so a second run creates nothing, and
dashboard cards someone added by hand stay where they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

KINDS = ("database", "collection", "card", "dashboard", "dashcard")
SESSION_HEADER = "X-Metabase-Session"
GRID_COLUMNS = 24  # the width of Metabase's dashboard grid
CARD_WIDTH, CARD_HEIGHT = 12, 6
COLLECTION_COLOR = "#509EE3"  # required by older Metabase versions, ignored by newer ones

Json = dict[str, Any]


class MetabaseError(RuntimeError):
    """A Metabase call failed; the message names the endpoint and never carries a password."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class MetabaseAdmin:
    email: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class WarehouseConnection:
    name: str
    host: str
    port: int
    dbname: str
    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class CardSpec:
    name: str
    sql: str
    display: str  # "table", "line", "bar", "scalar", ...


@dataclass(frozen=True)
class DashboardSpec:
    collection: str
    dashboard: str
    cards: tuple[CardSpec, ...]


@dataclass(frozen=True)
class SetupReport:
    """The names of what this run created and what it found already there, by kind."""

    admin_created: bool
    dashboard_id: int
    created: dict[str, tuple[str, ...]]
    found: dict[str, tuple[str, ...]]

    @property
    def created_anything(self) -> bool:
        return self.admin_created or any(self.created.values())


class _Api:
    """One authenticated conversation with Metabase, tallying what it creates and finds."""

    def __init__(self, client: httpx.AsyncClient, secrets: tuple[str, ...]) -> None:
        self.client = client
        self.secrets = tuple(secret for secret in secrets if secret)
        self.headers: dict[str, str] = {}
        self.created: dict[str, list[str]] = {kind: [] for kind in KINDS}
        self.found: dict[str, list[str]] = {kind: [] for kind in KINDS}

    def _redact(self, text: str) -> str:
        # Metabase's validation errors may echo the request body back.
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    async def call(self, method: str, path: str, body: Json | None = None) -> Any:
        endpoint = f"{method} {path}"
        try:
            response = await self.client.request(method, path, json=body, headers=self.headers)
        except httpx.HTTPError as error:
            raise MetabaseError(self._redact(f"{endpoint} failed: {error!r}")) from None
        if response.is_error:
            detail = self._redact(response.text[:300])
            message = f"{endpoint} answered {response.status_code}: {detail}"
            raise MetabaseError(message, status=response.status_code)
        try:
            return response.json()
        except ValueError:
            raise MetabaseError(f"{endpoint} answered with a body that is not JSON") from None

    async def ensure(
        self, kind: str, existing: list[Json], where: Json, path: str, body: Json
    ) -> int:
        """The id of the live item named as in `body` and matching `where`, POSTed if missing."""
        name = body["name"]
        for item in existing:
            fits = all(item.get(key) == value for key, value in where.items())
            if item.get("name") == name and not item.get("archived") and fits:
                self.found[kind].append(name)
                return item["id"]
        created = await self.call("POST", path, body)
        self.created[kind].append(name)
        return created["id"]


async def provision(
    client: httpx.AsyncClient,
    admin: MetabaseAdmin,
    warehouse: WarehouseConnection,
    spec: DashboardSpec,
    setup_token_site_name: str = "Movie pipeline",
) -> SetupReport:
    """Make Metabase hold the spec's dashboard over the warehouse; `client` points at Metabase."""
    api = _Api(client, (admin.password, warehouse.password))
    admin_created = await _set_up_admin(api, admin, setup_token_site_name)
    await _log_in(api, admin)
    database_id = await _ensure_database(api, warehouse)
    collections = await api.call("GET", "/api/collection")
    collection = {"name": spec.collection, "color": COLLECTION_COLOR, "parent_id": None}
    # The list also holds the root collection (no location) and personal ones (an owner).
    top_level = {"location": "/", "personal_owner_id": None}
    collection_id = await api.ensure(
        "collection", collections, top_level, "/api/collection", collection
    )
    inside = {"collection_id": collection_id}
    cards = await api.call("GET", "/api/card?f=all")
    card_ids: dict[str, int] = {}
    for card in spec.cards:
        body = _card_body(card, database_id, collection_id)
        card_ids[card.name] = await api.ensure("card", cards, inside, "/api/card", body)
    dashboards = await api.call("GET", "/api/dashboard")
    dashboard = {"name": spec.dashboard, "collection_id": collection_id}
    dashboard_id = await api.ensure("dashboard", dashboards, inside, "/api/dashboard", dashboard)
    await _place_cards(api, dashboard_id, card_ids)
    return SetupReport(
        admin_created=admin_created,
        dashboard_id=dashboard_id,
        created={kind: tuple(names) for kind, names in api.created.items()},
        found={kind: tuple(names) for kind, names in api.found.items()},
    )


async def _set_up_admin(api: _Api, admin: MetabaseAdmin, site_name: str) -> bool:
    """Create the first admin on a fresh Metabase; False when someone already did."""
    properties = await api.call("GET", "/api/session/properties")
    token = properties.get("setup-token")
    # Some versions keep publishing the token after setup, so has-user-setup decides.
    if token is None or properties.get("has-user-setup"):
        return False
    user = {
        "email": admin.email,
        "password": admin.password,
        "first_name": "Pipeline",
        "last_name": "Admin",
    }
    prefs = {"site_name": site_name, "allow_tracking": False}
    await api.call("POST", "/api/setup", {"token": token, "user": user, "prefs": prefs})
    return True


async def _log_in(api: _Api, admin: MetabaseAdmin) -> None:
    try:
        session = await api.call(
            "POST", "/api/session", {"username": admin.email, "password": admin.password}
        )
    except MetabaseError as error:
        if error.status != 401:
            raise
        message = (
            f"Metabase refused the login of {admin.email} (401 from POST /api/session): set "
            "METABASE_ADMIN_EMAIL and METABASE_ADMIN_PASSWORD to an existing admin's credentials"
        )
        raise MetabaseError(message, status=401) from None
    api.headers[SESSION_HEADER] = session["id"]


async def _ensure_database(api: _Api, warehouse: WarehouseConnection) -> int:
    listing = await api.call("GET", "/api/database")
    # Versions before 0.41 answer a bare list rather than {"data": [...]}.
    databases = listing["data"] if isinstance(listing, dict) else listing
    details = {
        "host": warehouse.host,
        "port": warehouse.port,
        "dbname": warehouse.dbname,
        "user": warehouse.user,
        "password": warehouse.password,
        "ssl": False,
    }
    body = {"engine": "postgres", "name": warehouse.name, "details": details}
    return await api.ensure("database", databases, {"engine": "postgres"}, "/api/database", body)


def _card_body(card: CardSpec, database_id: int, collection_id: int) -> Json:
    return {
        "name": card.name,
        "collection_id": collection_id,
        "display": card.display,
        "visualization_settings": {},
        "dataset_query": {
            "type": "native",
            "database": database_id,
            "native": {"query": card.sql},
        },
    }


async def _place_cards(api: _Api, dashboard_id: int, card_ids: dict[str, int]) -> None:
    """Add the missing cards below whatever the dashboard already shows."""
    path = f"/api/dashboard/{dashboard_id}"
    dashboard = await api.call("GET", path)
    # Metabase 0.47 renamed "ordered_cards" to "dashcards".
    dashcards: list[Json] = dashboard.get("dashcards", dashboard.get("ordered_cards")) or []
    placed = {dashcard.get("card_id") for dashcard in dashcards}
    missing = [(name, card_id) for name, card_id in card_ids.items() if card_id not in placed]
    api.found["dashcard"].extend(name for name, card_id in card_ids.items() if card_id in placed)
    if not missing:
        return
    top = max((dashcard["row"] + dashcard["size_y"] for dashcard in dashcards), default=0)
    per_row = GRID_COLUMNS // CARD_WIDTH
    tabs = dashboard.get("tabs") or []
    new = [
        {
            "id": -index - 1,  # negative ids ask Metabase to create these dashcards
            "card_id": card_id,
            "dashboard_tab_id": tabs[0]["id"] if tabs else None,
            "row": top + index // per_row * CARD_HEIGHT,
            "col": index % per_row * CARD_WIDTH,
            "size_x": CARD_WIDTH,
            "size_y": CARD_HEIGHT,
            "parameter_mappings": [],
            "visualization_settings": {},
        }
        for index, (_, card_id) in enumerate(missing)
    ]
    # The PUT replaces the whole list: dashcards left out of it would be deleted.
    await api.call("PUT", path, {"dashcards": [*dashcards, *new]})
    api.created["dashcard"].extend(name for name, _ in missing)
