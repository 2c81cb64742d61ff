"""The local stack: `up` is idempotent, a killed service comes back, `down` leaves nothing."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from devstack.__main__ import SERVICES
from devstack.paths import state_dir
from devstack.process import pid_alive
from tests.support import dependency_states, get_ready, run_devstack

DEPENDENCY_OF = {"kafka": "kafka", "ferretdb": "mongo", "postgres": "postgres"}


def current_pids() -> dict[str, int | None]:
    return {name: service.pid() for name, service in SERVICES.items()}


def stack_processes() -> list[str]:
    """Command lines of live processes that run from the stack's state directory."""
    marker = str(state_dir()).encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or not pid_alive(int(proc.name)):
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in cmdline:
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


def wait_until_dead(pid: int) -> None:
    deadline = time.monotonic() + 30
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(pid)


def test_up_twice_is_harmless():
    before = current_pids()
    assert all(before.values()), f"the stack should be up: {before}"
    result = run_devstack("up")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("already running") == len(SERVICES)
    assert current_pids() == before


@pytest.mark.parametrize("killed", ["ferretdb", "postgres", "kafka"])
async def test_killed_service_comes_back_while_others_keep_running(settings, killed):
    before = current_pids()
    os.kill(before[killed], signal.SIGKILL)
    wait_until_dead(before[killed])

    response = await get_ready(settings)
    assert response.status_code == 503
    expected = {dep: "up" for dep in DEPENDENCY_OF.values()} | {DEPENDENCY_OF[killed]: "down"}
    assert dependency_states(response) == expected

    result = run_devstack("up")
    assert result.returncode == 0, result.stderr
    after = current_pids()
    assert after[killed] not in (None, before[killed])
    assert {n: p for n, p in after.items() if n != killed} == {
        n: p for n, p in before.items() if n != killed
    }
    assert (await get_ready(settings)).status_code == 200


async def test_down_leaves_nothing_and_up_restores(settings):
    assert stack_processes(), "the stack should be running before `down`"
    result = run_devstack("down")
    assert result.returncode == 0, result.stderr
    assert stack_processes() == []
    assert all(pid is None for pid in current_pids().values())

    result = run_devstack("up")
    assert result.returncode == 0, result.stderr
    assert (await get_ready(settings)).status_code == 200
