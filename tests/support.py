"""Helpers shared by the integration and e2e tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx

from app.config import Settings
from app.db.partitions import EXPIRING, ensure_partitions
from app.main import create_app

REPO_ROOT = Path(__file__).resolve().parent.parent


async def get_ready(settings: Settings) -> httpx.Response:
    """`GET /ready` with its detail (as the operators' listener answers it) on an application
    built from these settings, in process, without its consumers and scheduler."""
    quiet = settings.model_copy(update={"run_consumers": False, "run_scheduler": False})
    app = create_app(quiet)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=ops_url(settings)) as ops,
    ):
        return await ops.get("/ready")


def ops_url(settings: Settings) -> str:
    """The base URL of an in-process application's operators' listener."""
    return f"http://test:{settings.ops_port}"


def dependency_states(response: httpx.Response) -> dict[str, str]:
    return {name: dep["state"] for name, dep in response.json()["dependencies"].items()}


def run_devstack(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""  # exited meanwhile


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceProcess:
    """`python -m app` in a subprocess on a free port, as operators run it."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        launcher: tuple[str, ...] = (),
        args: tuple[str, ...] = (),
        **env: str,
    ) -> None:
        """`launcher` prefixes the command, to run it on another host of a test network;
        `args` follow `python -m app` (a role, say)."""
        self.port, self.ops_port = free_port(), free_port()
        self.launcher, self.args = launcher, args
        self.base_url = f"http://{host}:{self.port}"
        self.ops_url = f"http://{host}:{self.ops_port}"  # the operators' listener
        # The Spark health check would start fallback runs in every test's service, the audit
        # would send canaries into every test's stores, and the tests play many clients from
        # one address: far above the fair-use limits.
        never = "0 0 1 1 *"
        quiet = {
            "SPARK_HEALTH_CRON": never,
            "AUDIT_CRON": never,
            "AUDIT_CANARY_CRON": never,
            "AUDIT_TABLE_CHECKS_CRON": never,
            "RATE_LIMIT_INGEST": "1000000/second",
            "RATE_LIMIT_READ": "1000000/second",
        }
        listeners = {"API_HOST": host, "API_PORT": str(self.port), "OPS_HOST": host,
                     "OPS_PORT": str(self.ops_port)}  # fmt: skip
        self._env = {**os.environ, **listeners, **quiet, **env}
        self.process: subprocess.Popen[str] | None = None
        # A file, not a pipe: a service logging faster than a test reads would block on a pipe.
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives as long as the service

    def start(self) -> None:
        self.launch()
        self.wait_until_healthy()

    def launch(self) -> None:
        self.process = subprocess.Popen(
            [*self.launcher, sys.executable, "-m", "app", *self.args],
            cwd=REPO_ROOT,
            env=self._env,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            text=True,
        )

    def wait_until_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the service exited: {self.log_text()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError("the service did not come up within 30s")

    def stop(self, signum: int = signal.SIGTERM) -> str:
        """Stop the service; returns what it has logged so far."""
        assert self.process is not None
        self.process.send_signal(signum)
        self.process.wait(timeout=60)
        return self.log_text()

    def worker_pids(self) -> set[int]:
        """The API worker processes that uvicorn's supervisor runs for this service."""
        assert self.process is not None
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return {int(child) for child in children if b"spawn_main" in command_line(int(child))}

    def log_text(self) -> str:
        self._log.seek(0)
        return self._log.read()


async def partitions_for_days(
    connection: asyncpg.Connection, first: datetime, last: datetime
) -> None:
    """The daily partitions of a past a test writes into by SQL, as the scheduler would have
    added them then (the writers add their own; a bare INSERT does not)."""
    for table in EXPIRING:
        await ensure_partitions(connection, table, first, last)
