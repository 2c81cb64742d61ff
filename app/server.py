"""The service under uvicorn, with the limits a public endpoint needs: a bound on
connections, a deadline for a request's headers, and a bounded graceful shutdown.

uvicorn times out idle keep-alive connections only, so a client that sends its headers a
byte at a time would hold a connection for ever; the protocol below closes it at the deadline.
It runs on uvloop with httptools, uvicorn's fastest loop and parser.
"""

from __future__ import annotations

import asyncio

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import Settings
from app.main import create_app


class DeadlineHttpToolsProtocol(HttpToolsProtocol):
    """httptools whose connections must deliver each request's headers within
    `header_timeout` of its first byte (the first request's: of the connection itself)."""

    header_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_deadline.cancel()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def on_headers_complete(self) -> None:
        self._header_deadline.cancel()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._header_deadline.cancel()
        super().connection_lost(exc)

    def _too_slow(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()


def serve(settings: Settings) -> None:
    protocol = type(
        "ConfiguredHttpToolsProtocol",
        (DeadlineHttpToolsProtocol,),
        {"header_timeout": settings.api_header_timeout_seconds},
    )
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        loop="uvloop",
        http=protocol,
        limit_concurrency=settings.api_max_connections,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_seconds)),
        log_config=None,
        access_log=False,
    )
