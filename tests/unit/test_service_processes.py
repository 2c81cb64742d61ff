"""The service's processes: the background's CPU priority, and a worker that cannot start."""

from __future__ import annotations

import logging
import os
import threading

import pytest
from uvicorn.config import STARTUP_FAILURE

from app import server
from app.config import Settings
from app.roles import lower_priority
from tests.support import free_port


def niceness_after(start: int, by: int) -> int:
    """The niceness of a fresh thread that starts at `start` and lowers its priority `by`."""
    seen: list[int] = []

    def work() -> None:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, start)
        lower_priority(by)
        seen.append(os.getpriority(os.PRIO_PROCESS, thread))

    runner = threading.Thread(target=work)
    runner.start()
    runner.join()
    return seen[0]


def test_the_background_is_niced_relative_to_the_process_and_at_most_to_19():
    base = os.getpriority(os.PRIO_PROCESS, 0)
    assert niceness_after(base, 7) == min(19, base + 7)
    assert niceness_after(15, 10) == 19
    assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the calling thread is untouched


def test_a_priority_that_cannot_be_set_is_logged_not_fatal(monkeypatch, caplog):
    def refuse(*_args: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "setpriority", refuse)
    with caplog.at_level(logging.WARNING):
        lower_priority(10)
    assert "keep the API's CPU priority" in caplog.text


class WorkerThatCannotStart:
    exitcode = STARTUP_FAILURE


class SupervisorWhoseWorkerFailed:
    """Stands in for uvicorn's supervisor after it stopped on a worker's startup failure."""

    def __init__(self, config: object, sockets: list[object]) -> None:
        self.processes = [WorkerThatCannotStart()]

    def run(self) -> None:
        pass


def test_a_worker_that_cannot_start_makes_the_service_exit_non_zero(monkeypatch):
    monkeypatch.setattr(server, "Multiprocess", SupervisorWhoseWorkerFailed)
    settings = Settings(_env_file=None, api_port=free_port(), ops_port=free_port(), api_workers=2)

    with pytest.raises(SystemExit) as exited:
        server.serve_workers(settings)

    assert exited.value.code == STARTUP_FAILURE
