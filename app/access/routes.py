"""Who may call each route: the one inventory of the service's routes.

- public: anyone, within the fair-use limits;
- per-user: a user's own bearer token, or a service token holding the `users:read` scope;
- operator: only on the operators' listener (OPS_HOST:OPS_PORT), never on the public one.

The service does not start with a route missing here (`unclassified`), and the README's table
of routes is checked against it (tests/unit/test_route_access.py).
"""

from __future__ import annotations

from enum import StrEnum


class Access(StrEnum):
    PUBLIC = "public"
    PER_USER = "per-user"
    OPERATOR = "operator"


ROUTE_ACCESS: dict[str, Access] = {
    "/events": Access.PUBLIC,
    "/events/schema": Access.PUBLIC,
    # The Segment protocol: public, as POST /events is; the write key names the sending source.
    "/v1/batch": Access.PUBLIC,
    "/v1/{message_type}": Access.PUBLIC,
    "/beacon/v1/batch": Access.PUBLIC,
    "/tracker.js": Access.PUBLIC,
    "/health": Access.PUBLIC,
    "/ready": Access.PUBLIC,  # its status only; the detail is on the operators' listener
    "/api/top_movies": Access.PUBLIC,
    "/api/emotion_trends": Access.PUBLIC,
    "/api/user_stats/{user_id}": Access.PER_USER,
    "/api/me/stats": Access.PER_USER,
    "/docs": Access.PUBLIC,
    "/docs/oauth2-redirect": Access.PUBLIC,
    "/redoc": Access.PUBLIC,
    "/openapi.json": Access.PUBLIC,
    "/metrics": Access.OPERATOR,
    "/status": Access.OPERATOR,
    "/": Access.OPERATOR,
    "/demo": Access.OPERATOR,
}

# Every operator route has a fixed path, so the public listener refuses them by a set lookup.
OPERATOR_PATHS = frozenset(
    path for path, access in ROUTE_ACCESS.items() if access is Access.OPERATOR
)


def unclassified(paths: list[str]) -> list[str]:
    return [path for path in paths if path not in ROUTE_ACCESS]
