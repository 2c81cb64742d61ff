"""Runs consumer runners as background tasks and stops them cleanly."""

from __future__ import annotations

import asyncio
import logging

from app.consumers.runner import ConsumerRunner

log = logging.getLogger(__name__)


class ConsumerSupervisor:
    def __init__(self, runners: list[ConsumerRunner]) -> None:
        self.runners = runners
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._keep_running(runner), name=runner.config.group_id)
            for runner in self.runners
        ]

    async def stop(self) -> None:
        for runner in self.runners:
            runner.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def wait(self) -> None:
        await asyncio.gather(*self._tasks)

    async def _keep_running(self, runner: ConsumerRunner) -> None:
        # A crash is a bug, but one consumer's bug must not stop the service or the others;
        # offsets were not committed, so a restart re-reads what was not written.
        while True:
            try:
                await runner.run()
                return
            except Exception:
                log.exception(
                    "consumer crashed; restarting", extra={"group": runner.config.group_id}
                )
                await asyncio.sleep(5)
