"""What the faults hit: the pipeline's own processes, which the run starts and restarts as a
process supervisor would, and the local stack's services, which `devstack` restarts.

Every target is a process group (the Spark command and its JVM, PostgreSQL and its backends),
so a kill or a pause takes all of it at once, as a machine or a container would.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from bench.processes import REPO_ROOT


def signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def wait_gone(pid: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise RuntimeError(f"process group {pid} outlived SIGKILL by {seconds:g}s")


@dataclass
class PipelineProcess:
    """One of ours: `python -m <module>`, in a session of its own, its log kept in a file."""

    name: str
    module: list[str]
    env: dict[str, str]
    log_path: Path
    health_url: str | None = None  # waited for after each start
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _log: IO[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        self._log = self._log or self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", *self.module],
            cwd=REPO_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if self.health_url:
            self._wait_healthy()

    def kill(self) -> None:
        assert self.process is not None
        signal_group(self.process.pid, signal.SIGKILL)
        self.process.wait()
        wait_gone(self.process.pid)

    def restart(self) -> None:
        self.start()

    def pause(self) -> None:
        assert self.process is not None
        signal_group(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        signal_group(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """SIGTERM, as an operator stops it; SIGKILL after a grace period."""
        if self.process is None or self.process.poll() is not None:
            return
        signal_group(self.process.pid, signal.SIGCONT)  # a paused process cannot stop
        signal_group(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            signal_group(self.process.pid, signal.SIGKILL)
            self.process.wait()
        if self._log:
            self._log.close()
            self._log = None

    def _wait_healthy(self) -> None:
        assert self.process is not None and self.health_url is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log_path}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.health_url, timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} was not healthy within 60s; see {self.log_path}")


STATUS_LINE = re.compile(r"^(?P<name>\w+)\s+\S+\s+\S+\s+pid=(?P<pid>\d+)", re.MULTILINE)


def devstack(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "devstack", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"devstack {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


@dataclass
class StackService:
    """Kafka, FerretDB or PostgreSQL of the local stack; `devstack up` brings it back."""

    name: str
    _paused: int | None = field(default=None, init=False)  # its status probe hangs meanwhile

    def pid(self) -> int:
        pids = {m["name"]: int(m["pid"]) for m in STATUS_LINE.finditer(devstack("status"))}
        if self.name not in pids:
            raise RuntimeError(f"{self.name} of the local stack is not running")
        return pids[self.name]

    def kill(self) -> None:
        pid = self.pid()
        signal_group(pid, signal.SIGKILL)
        wait_gone(pid)

    def restart(self) -> None:
        devstack("up", self.name)

    def pause(self) -> None:
        self._paused = self.pid()
        signal_group(self._paused, signal.SIGSTOP)

    def resume(self) -> None:
        assert self._paused is not None
        signal_group(self._paused, signal.SIGCONT)
        self._paused = None
