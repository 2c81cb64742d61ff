"""A twin of the Metabase REST API endpoints that provisioning uses, kept in memory and served
over real HTTP on loopback.

    with FakeMetabase() as metabase:
        async with httpx.AsyncClient(base_url=metabase.base_url) as client:
            ...
        assert metabase.count("POST", "/api/card") == 2

or as a fixture: `with FakeMetabase() as metabase: yield metabase`. Stored objects are plain dicts
in `databases`, `collections`, `cards` and `dashboards` (each dashboard with its `dashcards`),
keyed by id; they hold what was sent, so a database's details keep the password that the API's
answers mask, as Metabase's do.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.loopback import LoopbackServer, ServedTwin

Json = dict[str, Any]

SESSION_HEADER = "X-Metabase-Session"
PUBLIC_PATHS = {"/api/session/properties", "/api/setup", "/api/session"}
ENGINES = {"postgres", "h2", "mysql", "sqlite", "mongo", "bigquery-cloud-sdk", "snowflake"}
CARD_FILTERS = {"all", "mine", "bookmarked", "database", "table", "archived", "using_model"}
DASHBOARD_PATH = re.compile(r"/api/dashboard/(\d+)")
MASKED_PASSWORD = "**MetabasePass**"  # what Metabase shows in place of a stored password
ROOT_COLLECTION = {"id": "root", "name": "Our analytics", "can_write": True, "location": None}
SAMPLE_DATABASE = {"id": 1, "name": "Sample Database", "engine": "h2", "is_sample": True}


class Invalid(Exception):
    """A request body Metabase would refuse with a 400 naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def not_found() -> PlainTextResponse:
    return PlainTextResponse("Not found.", status_code=404)


def non_blank(body: Json, key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise Invalid(key, "value must be a non-blank string.")
    return value


def positive_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise Invalid(key, "value must be an integer greater than zero.")
    return value


def grid_int(dashcard: Json, key: str, minimum: int) -> int:
    value = dashcard.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise Invalid("dashcards", f"each dashcard needs an integer {key} of at least {minimum}.")
    return value


class FakeMetabase(ServedTwin):
    def __init__(self) -> None:
        self.setup_token = str(uuid.uuid4())
        self.site_name: str | None = None
        self.users: dict[str, Json] = {}  # by email
        self.sessions: dict[str, str] = {}  # session id -> email
        self.databases: dict[int, Json] = {1: {**SAMPLE_DATABASE, "details": {}}}
        self.collections: dict[int, Json] = {}
        self.cards: dict[int, Json] = {}
        self.dashboards: dict[int, Json] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, in order
        kinds = ("user", "collection", "card", "dashboard", "dashcard")
        self._ids = {kind: itertools.count(1) for kind in kinds}
        self._ids["database"] = itertools.count(2)  # the sample database holds 1
        # Handlers run on the server's thread while tests read the state on theirs.
        self.lock = threading.Lock()
        methods = ["GET", "POST", "PUT", "DELETE"]
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=methods)])
        self.server = LoopbackServer(app, "Metabase")
        self.port = self.server.port
        self.base_url = f"http://127.0.0.1:{self.port}"

    def count(self, method: str, path: str) -> int:
        """How many requests had this method and path, such as ("POST", "/api/card")."""
        with self.lock:
            return self.requests.count((method, path))

    async def _handle(self, request: Request) -> Response:
        path = "/" + request.url.path.strip("/")  # Metabase takes "/api/card/" as "/api/card"
        raw = await request.body()
        with self.lock:
            self.requests.append((request.method, path))
            signed_in = request.headers.get(SESSION_HEADER) in self.sessions
            if path not in PUBLIC_PATHS and not signed_in:
                return PlainTextResponse("Unauthenticated", status_code=401)
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                return PlainTextResponse("Malformed JSON in request body.", status_code=400)
            if not isinstance(body, dict):
                return PlainTextResponse("The request body must be a JSON object.", 400)
            try:
                return self._route(request.method, path, dict(request.query_params), body)
            except Invalid as invalid:
                return JSONResponse({"errors": {invalid.field: str(invalid)}}, status_code=400)

    def _route(self, method: str, path: str, query: dict[str, str], body: Json) -> Response:
        routes = {
            ("GET", "/api/session/properties"): self._properties,
            ("POST", "/api/setup"): self._setup,
            ("POST", "/api/session"): self._log_in,
            ("GET", "/api/database"): self._list_databases,
            ("POST", "/api/database"): self._create_database,
            ("GET", "/api/collection"): self._list_collections,
            ("POST", "/api/collection"): self._create_collection,
            ("GET", "/api/card"): self._list_cards,
            ("POST", "/api/card"): self._create_card,
            ("GET", "/api/dashboard"): self._list_dashboards,
            ("POST", "/api/dashboard"): self._create_dashboard,
        }
        if (method, path) in routes:
            return routes[method, path](query, body)
        if (match := DASHBOARD_PATH.fullmatch(path)) and method in ("GET", "PUT"):
            dashboard = self.dashboards.get(int(match[1]))
            if dashboard is None or dashboard["archived"]:
                return not_found()
            if method == "PUT":
                self._update_dashboard(dashboard, body)
            return JSONResponse(self._dashboard_view(dashboard))
        return PlainTextResponse("API endpoint does not exist.", status_code=404)

    def _properties(self, query: dict[str, str], body: Json) -> Response:
        # Like several Metabase versions, the token stays published once setup is done.
        return JSONResponse(
            {
                "setup-token": self.setup_token,
                "has-user-setup": bool(self.users),
                "site-name": self.site_name,
                "version": {"tag": "v0.50.0"},
            }
        )

    def _setup(self, query: dict[str, str], body: Json) -> Response:
        if body.get("token") != self.setup_token:
            raise Invalid("token", "Token does not match the setup token.")
        if self.users:
            message = "The /api/setup route can only be used to create the first user, however"
            return PlainTextResponse(f"{message} a user currently exists.", status_code=403)
        user, prefs = body.get("user"), body.get("prefs")
        if not isinstance(user, dict) or not isinstance(prefs, dict):
            raise Invalid("user", "user and prefs must be maps.")
        email = non_blank(user, "email")
        if "@" not in email:
            raise Invalid("email", "value must be a valid email address.")
        non_blank(user, "password")
        self.site_name = non_blank(prefs, "site_name")
        user_id = next(self._ids["user"])
        self.users[email] = {**user, "id": user_id, "is_superuser": True}
        personal = {"name": f"{user.get('first_name', email)}'s Personal Collection"}
        self._store_collection({**personal, "personal_owner_id": user_id})
        return JSONResponse({"id": self._new_session(email)})

    def _log_in(self, query: dict[str, str], body: Json) -> Response:
        username, password = non_blank(body, "username"), non_blank(body, "password")
        user = self.users.get(username)
        if user is None or user["password"] != password:
            # The same answer whether the account is missing or the password is wrong.
            errors = {"password": "did not match stored password"}
            return JSONResponse({"errors": errors}, status_code=401)
        return JSONResponse({"id": self._new_session(username)})

    def _new_session(self, email: str) -> str:
        session = str(uuid.uuid4())
        self.sessions[session] = email
        return session

    def _list_databases(self, query: dict[str, str], body: Json) -> Response:
        databases = [self._database_view(database) for database in self.databases.values()]
        return JSONResponse({"data": databases, "total": len(databases)})

    def _create_database(self, query: dict[str, str], body: Json) -> Response:
        engine, name = non_blank(body, "engine"), non_blank(body, "name")
        if engine not in ENGINES:
            raise Invalid("engine", "value must be a valid database engine.")
        details = body.get("details")
        if not isinstance(details, dict):
            raise Invalid("details", "value must be a map.")
        if engine == "postgres":
            for key in ("host", "dbname", "user"):
                non_blank(details, key)
            positive_int(details.get("port"), "port")
        database = {"id": next(self._ids["database"]), "name": name, "engine": engine}
        self.databases[database["id"]] = {**database, "details": copy.deepcopy(details)}
        return JSONResponse(self._database_view(self.databases[database["id"]]))

    def _database_view(self, database: Json) -> Json:
        details = dict(database["details"])
        if "password" in details:
            details["password"] = MASKED_PASSWORD
        return {**database, "details": details}

    def _list_collections(self, query: dict[str, str], body: Json) -> Response:
        live = [c for c in self.collections.values() if not c["archived"]]
        live.sort(key=lambda collection: collection["name"].lower())
        return JSONResponse([ROOT_COLLECTION, *live])

    def _create_collection(self, query: dict[str, str], body: Json) -> Response:
        name = non_blank(body, "name")
        parent_id = body.get("parent_id")
        if parent_id is not None and positive_int(parent_id, "parent_id") not in self.collections:
            return not_found()
        collection = {"name": name, "color": body.get("color"), "parent_id": parent_id}
        return JSONResponse(self._store_collection(collection))

    def _store_collection(self, fields: Json) -> Json:
        parent_id = fields.get("parent_id")
        parent_location = "" if parent_id is None else self.collections[parent_id]["location"]
        collection = {
            "personal_owner_id": None,
            **fields,
            "id": next(self._ids["collection"]),
            # Metabase's materialized path: "/" at the top, "/3/7/" two levels down.
            "location": "/" if parent_id is None else f"{parent_location}{parent_id}/",
            "archived": False,
        }
        self.collections[collection["id"]] = collection
        return collection

    def _list_cards(self, query: dict[str, str], body: Json) -> Response:
        if query.get("f", "all") not in CARD_FILTERS:
            raise Invalid("f", f"nullable enum of {', '.join(sorted(CARD_FILTERS))}.")
        return JSONResponse([card for card in self.cards.values() if not card["archived"]])

    def _create_card(self, query: dict[str, str], body: Json) -> Response:
        name, display = non_blank(body, "name"), non_blank(body, "display")
        if not isinstance(body.get("visualization_settings"), dict):
            raise Invalid("visualization_settings", "Value must be a map.")
        dataset_query = body.get("dataset_query")
        if not isinstance(dataset_query, dict):
            raise Invalid("dataset_query", "Value must be a map.")
        if dataset_query.get("type") != "native":  # the twin only holds native SQL questions
            raise Invalid("dataset_query", "type must be native.")
        native = dataset_query.get("native")
        if not isinstance(native, dict):
            raise Invalid("dataset_query", "native must be a map holding the query.")
        non_blank(native, "query")
        database_id = positive_int(dataset_query.get("database"), "database")
        if database_id not in self.databases:
            raise Invalid("dataset_query", f"database {database_id} does not exist.")
        collection_id = self._collection_id(body)
        card = {
            "id": next(self._ids["card"]),
            "name": name,
            "display": display,
            "collection_id": collection_id,
            "database_id": database_id,
            "query_type": "native",
            "dataset_query": copy.deepcopy(dataset_query),
            "visualization_settings": body["visualization_settings"],
            "archived": False,
        }
        self.cards[card["id"]] = card
        return JSONResponse(card)

    def _collection_id(self, body: Json) -> int | None:
        collection_id = body.get("collection_id")
        if collection_id is None:
            return None
        if positive_int(collection_id, "collection_id") not in self.collections:
            raise Invalid("collection_id", f"collection {collection_id} does not exist.")
        return collection_id

    def _list_dashboards(self, query: dict[str, str], body: Json) -> Response:
        live = [d for d in self.dashboards.values() if not d["archived"]]
        return JSONResponse([self._dashboard_view(d, with_cards=False) for d in live])

    def _create_dashboard(self, query: dict[str, str], body: Json) -> Response:
        dashboard = {
            "id": next(self._ids["dashboard"]),
            "name": non_blank(body, "name"),
            "collection_id": self._collection_id(body),
            "archived": False,
            "parameters": [],
            "tabs": [],
            "dashcards": [],
        }
        self.dashboards[dashboard["id"]] = dashboard
        return JSONResponse(self._dashboard_view(dashboard))

    def _dashboard_view(self, dashboard: Json, with_cards: bool = True) -> Json:
        view = {key: value for key, value in dashboard.items() if key != "dashcards"}
        if with_cards:
            view["dashcards"] = [
                {**dashcard, "card": self.cards.get(dashcard["card_id"])}
                for dashcard in dashboard["dashcards"]
            ]
        return copy.deepcopy(view)

    def _update_dashboard(self, dashboard: Json, body: Json) -> None:
        """Apply a PUT: the dashcards sent become the whole list, negative ids being new ones."""
        name = non_blank(body, "name") if "name" in body else dashboard["name"]
        dashcards = body.get("dashcards")
        if dashcards is None:
            dashboard["name"] = name
            return
        if not isinstance(dashcards, list) or not all(isinstance(d, dict) for d in dashcards):
            raise Invalid("dashcards", "value must be seq of maps in which ids are unique.")
        ids = [dashcard.get("id") for dashcard in dashcards]
        if len(set(ids)) != len(ids) or not all(isinstance(i, int) for i in ids):
            raise Invalid("dashcards", "value must be seq of maps in which ids are unique.")
        current = {dashcard["id"] for dashcard in dashboard["dashcards"]}
        stored = []
        for dashcard in dashcards:
            card_id = dashcard.get("card_id")
            if card_id is not None and card_id not in self.cards:
                raise Invalid("dashcards", f"card {card_id} does not exist.")
            if dashcard["id"] > 0 and dashcard["id"] not in current:
                raise Invalid("dashcards", f"dashcard {dashcard['id']} is not on this dashboard.")
            layout = {key: grid_int(dashcard, key, 0) for key in ("row", "col")}
            layout |= {key: grid_int(dashcard, key, 1) for key in ("size_x", "size_y")}
            new_id = dashcard["id"] if dashcard["id"] > 0 else next(self._ids["dashcard"])
            stored.append(
                {
                    "id": new_id,
                    "dashboard_id": dashboard["id"],
                    "card_id": card_id,
                    "dashboard_tab_id": dashcard.get("dashboard_tab_id"),
                    **layout,
                    "parameter_mappings": dashcard.get("parameter_mappings") or [],
                    "visualization_settings": dashcard.get("visualization_settings") or {},
                }
            )
        dashboard["name"], dashboard["dashcards"] = name, stored
