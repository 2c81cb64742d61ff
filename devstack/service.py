"""What every local service offers the `up`, `down` and `status` commands."""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from pathlib import Path

from devstack.paths import state_dir
from devstack.process import StackError, log_tail


class LocalService(ABC):
    name: str
    port: int
    ready_timeout_seconds: float = 60.0

    @property
    def home(self) -> Path:
        return state_dir() / self.name

    @property
    def log_file(self) -> Path:
        return state_dir() / "logs" / f"{self.name}.log"

    @abstractmethod
    def prepare(self) -> None:
        """Download or build what the service needs, once, into the cache."""

    @abstractmethod
    def start(self) -> None:
        """Start the service in the background; it need not be ready yet."""

    @abstractmethod
    def stop(self) -> bool:
        """Stop the service if it runs; True if it did."""

    @abstractmethod
    def pid(self) -> int | None:
        """The pid of the running service, or None."""

    @abstractmethod
    async def probe(self) -> str:
        """A real round trip through the service's protocol; raises when it is not ready."""

    async def is_ready(self) -> bool:
        try:
            await asyncio.wait_for(self.probe(), 5)
        except Exception:  # any failure means "not ready yet"
            return False
        return True

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_seconds
        while time.monotonic() < deadline:
            if asyncio.run(self.is_ready()):
                return
            if self.pid() is None:
                raise StackError(
                    f"{self.name} exited while starting; its log is {self.log_file}:\n"
                    f"{log_tail(self.log_file)}"
                )
            time.sleep(0.5)
        raise StackError(
            f"{self.name} was not ready within {self.ready_timeout_seconds:g}s; "
            f"its log is {self.log_file}:\n{log_tail(self.log_file)}"
        )
