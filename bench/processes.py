"""Jobs and services as subprocesses: the peak memory of a process tree, timed runs, clean stops.

Memory is the summed resident set of a process and all its descendants (the JVM Spark starts
included), polled from /proc every 0.2 s: a peak shorter than that can be missed, and pages
shared between processes of the tree count once per process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

REPO_ROOT = Path(__file__).resolve().parent.parent
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
POLL_SECONDS = 0.2
MIB = 1024 * 1024


def children_by_parent() -> dict[int, list[int]]:
    """Every live process's children, read from /proc/<pid>/stat."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_bytes()
        except OSError:
            continue  # exited meanwhile
        # The command name may hold spaces and parentheses: the fields follow the last ')'.
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        children[ppid].append(int(entry.name))
    return children


def process_tree(root: int) -> list[int]:
    children, tree = children_by_parent(), [root]
    for pid in tree:  # grows while it is walked: breadth first
        tree.extend(children.get(pid, ()))
    return tree


def resident_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
    except (OSError, IndexError):
        return 0


def start_time(pid: int) -> int | None:
    """The kernel's start time of a process, so a reused pid is never mistaken for it."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[19])
    except (OSError, IndexError):
        return None


class TreeMemorySampler:
    """The peak summed RSS of a process tree, polled on a thread of its own while in `with`."""

    def __init__(self, root: int) -> None:
        self.root, self.peak_bytes = root, 0
        self.seen: dict[int, int | None] = {}  # pid -> start time, of every process sampled
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / MIB

    def _poll(self) -> None:
        while not self._stop.is_set():
            tree = process_tree(self.root)
            for pid in tree:
                self.seen.setdefault(pid, start_time(pid))
            self.peak_bytes = max(self.peak_bytes, sum(map(resident_bytes, tree)))
            self._stop.wait(POLL_SECONDS)


@dataclass(frozen=True)
class JobRun:
    seconds: float
    peak_rss_mib: float
    stdout: str
    stderr: str  # the job's log


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_listeners(port: int) -> dict[str, str]:
    """A bench's service on `port`, its operators' listener on another free port. The bench
    plays many clients from one address: the fair-use limits are set far above its rates, so
    they are paid for but never refuse (RATE_LIMITS_ENABLED=false in the environment measures
    without them)."""
    return {
        "API_PORT": str(port),
        "OPS_PORT": str(free_port()),
        "RATE_LIMIT_INGEST": os.environ.get("RATE_LIMIT_INGEST", "10000000/second"),
        "RATE_LIMIT_READ": os.environ.get("RATE_LIMIT_READ", "10000000/second"),
    }


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def run_job(command: list[str], env: dict[str, str]) -> JobRun:
    """Run a command to its end from the repository root: wall time, peak tree RSS, output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, **env},
                                   stdout=out, stderr=err)  # fmt: skip
        with TreeMemorySampler(process.pid) as memory:
            returncode = process.wait()
        seconds = time.perf_counter() - started
        end_leftovers(memory.seen)
        if returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {returncode}: {tail(err)}")
        out.seek(0)
        err.seek(0)
        return JobRun(
            seconds, memory.peak_mib, out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )  # fmt: skip


def tail(log: IO[bytes], chars: int = 3000) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-chars:]


def end_leftovers(seen: dict[int, int | None], grace_seconds: float = 10) -> None:
    """SIGTERM, then SIGKILL, what of a stopped tree outlived its root (same pid, same start)."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        alive = [pid for pid, started in seen.items() if started and start_time(pid) == started]
        if not alive:
            return
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
        deadline = time.monotonic() + grace_seconds
        while time.monotonic() < deadline and any(start_time(pid) == seen[pid] for pid in alive):
            time.sleep(0.1)


class BackgroundProcess:
    """A service or stream in the background, its output in a temp file, stopped with SIGTERM."""

    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.name, self.command, self.env = name, command, env
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__
        self.process: subprocess.Popen[bytes] | None = None
        self.memory: TreeMemorySampler | None = None

    def __enter__(self) -> BackgroundProcess:
        self.process = subprocess.Popen(
            self.command, cwd=REPO_ROOT, env={**os.environ, **self.env},
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.memory = TreeMemorySampler(self.process.pid).__enter__()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _error: object, _tb: TracebackType | None
    ) -> None:
        try:
            self.stop()
        finally:
            self.log.close()

    @property
    def peak_rss_mib(self) -> float:
        return self.memory.peak_mib if self.memory else 0.0

    def check_running(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited {self.process.returncode}: {tail(self.log)}")

    def stop(self, timeout: float = 60) -> None:
        assert self.process is not None and self.memory is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.memory.__exit__()
        end_leftovers(self.memory.seen)
