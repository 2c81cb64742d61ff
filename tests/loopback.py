"""A Starlette app served over real HTTP on 127.0.0.1, in a thread: the twins of services we
do not own (TMDB, Metabase) run on it."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn
from starlette.types import ASGIApp


class LoopbackServer:
    def __init__(self, app: ASGIApp, name: str) -> None:
        self.name = name
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        # Without it, Nagle and delayed ACKs add 40 ms to every answer on a handed-over socket.
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the fake {self.name} server did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.ident is not None:  # started
            self._thread.join(timeout=10)
        self._socket.close()


class ServedTwin:
    """A twin that is its own context manager: `with FakeX() as x: ...`."""

    server: LoopbackServer

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
