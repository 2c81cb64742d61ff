"""CPU time of the pipeline's processes over a stretch of load, to name each one's cost per event.

A component is a process tree: the bench's own subprocesses by pid, and the stores by the port
they listen on (found in /proc/net/tcp, so only a store on this machine is measured). A tree's
time counts its live processes and the children they have reaped, so the short-lived
PostgreSQL backends count too. The machine's busy share comes from /proc/stat.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.processes import process_tree

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
LISTEN = "0A"  # the state column of /proc/net/tcp for a listening socket
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]"}


def own_cpu_seconds(pid: int, reaped: bool = True) -> float:
    """utime + stime of a process, and with `reaped` those of its reaped children (cutime +
    cstime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0  # exited meanwhile
    return sum(int(ticks) for ticks in fields[11 : 15 if reaped else 13]) / TICKS_PER_SECOND


def tree_cpu_seconds(root: int) -> float:
    return sum(map(own_cpu_seconds, process_tree(root)))


def listening_pid(port: int) -> int | None:
    """The process listening on a local TCP port, or None when none of ours does."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            columns = line.split()
            if columns[3] == LISTEN and int(columns[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(columns[9])
    sockets = {f"socket:[{inode}]" for inode in inodes}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry.name}/fd")
            if any(os.readlink(f"/proc/{entry.name}/fd/{fd}") in sockets for fd in fds):
                return int(entry.name)
        except OSError:
            continue  # exited, or not ours to read
    return None


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot; iowait counts as idle."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass(frozen=True)
class CpuReading:
    seconds: Mapping[str, float]  # CPU seconds per component, since the meter's start
    busy_share: float  # of all the machine's CPUs over the same stretch


class CpuMeter:
    """CPU seconds each named process tree (or, for those `alone`, each process without its
    children, which are counted under names of their own) spent between `start()` and
    `read()`."""

    def __init__(self, roots: Mapping[str, int], alone: Mapping[str, int]) -> None:
        self.roots, self.alone = dict(roots), dict(alone)
        self._start: dict[str, float] = {}
        self._ticks = (0, 0)

    def _seconds(self) -> dict[str, float]:
        return {name: tree_cpu_seconds(pid) for name, pid in self.roots.items()} | {
            name: own_cpu_seconds(pid, reaped=False) for name, pid in self.alone.items()
        }

    def start(self) -> None:
        self._start = self._seconds()
        self._ticks = machine_ticks()

    def read(self) -> CpuReading:
        busy, total = machine_ticks()
        spent = {name: seconds - self._start[name] for name, seconds in self._seconds().items()}
        share = (busy - self._ticks[0]) / max(1, total - self._ticks[1])
        return CpuReading(spent, share)


def store_roots(urls: Mapping[str, str]) -> dict[str, int]:
    """Each named store's listening process, for those running on this machine."""
    ports = {name: port for name, url in urls.items() if (port := local_port(url)) is not None}
    return {name: pid for name, port in ports.items() if (pid := listening_pid(port)) is not None}


def local_port(url: str) -> int | None:
    """The port of a store's URL (or Kafka's first bootstrap server) when it is on this
    machine."""
    address = url.split("://", 1)[-1].split("/", 1)[0].split(",", 1)[0].rsplit("@", 1)[-1]
    host, _, port = address.rpartition(":")
    return int(port) if host in LOCAL_HOSTS and port.isdigit() else None
