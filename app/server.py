"""The service under uvicorn, with the limits a public endpoint needs: a bound on
connections, a deadline for a request's headers, and a bounded graceful shutdown.

uvicorn times out idle keep-alive connections only, so a client that sends its headers a
byte at a time would hold a connection for ever; the protocol below closes it at the deadline.
It runs on uvloop with httptools, uvicorn's fastest loop and parser, in this process or in
API_WORKERS processes sharing the sockets: the public listener's and the operators'.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from app.config import Settings, get_settings
from app.logs import configure_logging
from app.main import create_app

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent thread exits


class ServiceConfig(uvicorn.Config):
    """uvicorn's config and the header deadline, which worker processes receive along with it."""

    def __init__(self, app: Any, *, header_timeout: float, **options: Any) -> None:
        super().__init__(app, **options)
        self.header_timeout = header_timeout


class DeadlineHttpToolsProtocol(HttpToolsProtocol):
    """httptools whose connections must deliver each request's headers within the config's
    `header_timeout` of its first byte (the first request's: of the connection itself)."""

    config: ServiceConfig

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_deadline = self.loop.call_later(self.config.header_timeout, self._too_slow)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_deadline.cancel()
        self._header_deadline = self.loop.call_later(self.config.header_timeout, self._too_slow)

    def on_headers_complete(self) -> None:
        self._header_deadline.cancel()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._header_deadline.cancel()
        super().connection_lost(exc)

    def _too_slow(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()


def service_config(settings: Settings, app: FastAPI | str, workers: int) -> ServiceConfig:
    return ServiceConfig(
        app,
        header_timeout=settings.api_header_timeout_seconds,
        factory=isinstance(app, str),
        workers=workers,
        host=settings.api_host,
        port=settings.api_port,
        loop="uvloop",
        http=DeadlineHttpToolsProtocol,
        limit_concurrency=settings.api_max_connections,
        # X-Forwarded-For names the client only when a trusted proxy sends it.
        proxy_headers=bool(settings.trusted_proxies.strip()),
        forwarded_allow_ips=settings.trusted_proxies or None,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_seconds)),
        log_config=None,
        access_log=False,
    )


class ServiceServer(uvicorn.Server):
    """uvicorn's server, listening on the operators' address too: the same application, so
    the same lifespan and resources, behind a second port."""

    def __init__(self, config: ServiceConfig, operators: tuple[str, int]) -> None:
        super().__init__(config)
        self.operators = operators

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if sockets is not None or self.should_exit:
            return  # the workers' supervisor bound both listeners' sockets
        config, (host, port) = self.config, self.operators

        def protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )

        try:
            server = await asyncio.get_running_loop().create_server(
                protocol, host=host, port=port, backlog=config.backlog
            )
        except OSError as error:
            log.error("the operators' listener on %s:%s: %s", host, port, error)
            await self.shutdown()
            sys.exit(STARTUP_FAILURE)
        self.servers.append(server)
        log.info("Operators' listener on http://%s:%s", host, port)


def serve(settings: Settings) -> None:
    """The API in this process. uvicorn binds its listeners itself: on sockets bound ahead
    (as the workers' supervisor must), answers took a quarter longer under wrk."""
    config = service_config(settings, create_app(settings), workers=1)
    ServiceServer(config, (settings.ops_host, settings.ops_port)).run()


def listener_sockets(settings: Settings, config: ServiceConfig) -> list[socket.socket]:
    """The public listener's socket, then the operators', for the workers to share."""
    operators = uvicorn.Config(config.app, host=settings.ops_host, port=settings.ops_port)
    return [config.bind_socket(), operators.bind_socket()]


def serve_workers(settings: Settings) -> None:
    """The API alone in `api_workers` processes on one socket, until SIGTERM or SIGINT.

    uvicorn's supervisor starts them, replaces one that dies, and stops them all gracefully.
    """
    config = service_config(settings, f"{__name__}:worker_app", workers=settings.api_workers)
    supervisor = Multiprocess(config, sockets=listener_sockets(settings, config))
    supervisor.run()
    # The supervisor stops, and returns, when a worker could not start: whatever supervises
    # this process must hear of it, as it would of a single process that failed.
    if any(worker.exitcode == STARTUP_FAILURE for worker in supervisor.processes):
        raise SystemExit(STARTUP_FAILURE)


def worker_app() -> FastAPI:
    """The application of one API worker process, from its own settings."""
    stop_with_the_supervisor()
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


def stop_with_the_supervisor() -> None:
    """A worker whose supervisor was killed outright (SIGKILL leaves it no time to stop its
    workers) must not go on serving, orphaned and without the consumers, beside the
    supervisor's replacement. Linux then sends it SIGTERM: a graceful stop."""
    if sys.platform != "linux":
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    supervisor = multiprocessing.parent_process()
    if supervisor is not None and os.getppid() != supervisor.pid:  # it died before the call
        signal.raise_signal(signal.SIGTERM)
