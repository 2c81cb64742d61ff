"""bench.cpu: the CPU time of process trees, and where the stores listen."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from bench.cpu import CpuMeter, listening_pid, local_port

BUSY_SECONDS = 0.5
BUSY = (
    f"import time\nend = time.process_time() + {BUSY_SECONDS}\n"
    "while time.process_time() < end: pass"
)


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("postgresql://movies:secret@127.0.0.1:55432/movies", 55432),
        ("mongodb://localhost:27017/", 27017),
        ("127.0.0.1:9092,127.0.0.1:9093", 9092),
        ("postgresql://movies@db.example:5432/movies", None),
        ("127.0.0.1", None),
    ],
)
def test_only_a_store_on_this_machine_has_a_local_port(url: str, port: int | None):
    assert local_port(url) == port


def test_the_process_listening_on_a_port_is_found():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert listening_pid(server.getsockname()[1]) == os.getpid()
        free = server.getsockname()[1]
    assert listening_pid(free) is None


def test_a_tree_counts_its_children_and_a_process_alone_does_not():
    """The parent runs a busy child when told to, reaps it, and says so."""
    script = (
        "import subprocess, sys\nsys.stdin.readline()\n"
        f"subprocess.run([sys.executable, '-c', {BUSY!r}])\nprint('done', flush=True)\n"
        "sys.stdin.readline()"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdin is not None and parent.stdout is not None
    try:
        meter = CpuMeter({"tree": parent.pid}, alone={"alone": parent.pid})
        meter.start()
        parent.stdin.write("go\n")
        parent.stdin.flush()
        assert parent.stdout.readline() == "done\n"
        reading = meter.read()
        assert reading.seconds["tree"] >= BUSY_SECONDS  # the reaped child's time included
        assert reading.seconds["alone"] < BUSY_SECONDS / 2
        assert 0 < reading.busy_share <= 1
    finally:
        parent.kill()
        parent.wait()
