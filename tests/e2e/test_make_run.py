"""Ctrl-C on `make run` stops the whole pipeline (service, consumers, scheduler and the Spark
stream's JVM) within seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.support import REPO_ROOT, command_line, free_port

STOPPED_WITHIN_SECONDS = 10.0


def group_members(group: int) -> list[int]:
    """The processes still in a process group, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def commands_of(pids: list[int]) -> list[str]:
    return [command_line(pid).replace(b"\0", b" ").decode(errors="replace") for pid in pids]


def test_ctrl_c_stops_make_run_within_seconds(tmp_path):
    port, ops_port = free_port(), free_port()
    env = {
        **os.environ,
        "API_PORT": str(port),
        "OPS_PORT": str(ops_port),
        "SPARK_CHECKPOINT_DIR": str(tmp_path / "checkpoint"),
        "SPARK_STARTING_OFFSETS": "latest",
    }
    log = (tmp_path / "make-run.log").open("w")
    # Its own session, as a terminal's foreground job: Ctrl-C signals the whole group.
    make = subprocess.Popen(
        ["make", "run"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not any("java" in c and "pyspark" in c for c in commands_of(group_members(make.pid))):
            assert time.monotonic() < deadline, "the Spark stream's JVM never started"
            time.sleep(0.5)
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the service never answered"
            time.sleep(0.5)

        os.killpg(make.pid, signal.SIGINT)
        interrupted = time.monotonic()
        while group_members(make.pid) and time.monotonic() - interrupted < 60:
            time.sleep(0.2)
        took = time.monotonic() - interrupted
        left = commands_of(group_members(make.pid))
    finally:
        for pid in group_members(make.pid):
            os.kill(pid, signal.SIGKILL)
        make.wait(timeout=10)
        log.close()
    assert not left, left
    assert took < STOPPED_WITHIN_SECONDS, f"{took:.1f} s"
    printed = (tmp_path / "make-run.log").read_text()
    assert f"public API on http://127.0.0.1:{port}" in printed
    assert f"operators on http://127.0.0.1:{ops_port}" in printed
