"""The two listeners of one service: the public one (API_HOST:API_PORT) and the operators'
(OPS_HOST:OPS_PORT). Every API process serves both sockets; a request is known by the port it
arrived on, which no header can change."""

from __future__ import annotations

from starlette.types import Scope


def on_operators_listener(scope: Scope, ops_port: int) -> bool:
    server = scope.get("server")
    return server is not None and server[1] == ops_port
