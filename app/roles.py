"""The roles a process of the service plays: `python -m app --role all|api|consumers|scheduler`.

- `all` (the default) is the whole service, as `make run` starts it: the API in API_WORKERS
  worker processes sharing one socket (one by default), while this process runs the consumers
  and the scheduler, once, at a lower CPU priority (BACKGROUND_NICENESS). They never share the
  API's event loop or core: what they do can wait in Kafka, an answer to a client cannot.
- `api` serves the API alone (on API_WORKERS processes): run as many as the traffic needs,
  behind any load balancer.
- `consumers` runs every consumer group: more of them share the partitions through Kafka's
  groups.
- `scheduler` runs the scheduled jobs. Each job claims its slot in PostgreSQL before it runs,
  so a second scheduler is harmless: it only loses the race.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Sequence

from app.background import consumer_groups, run_background, until_signalled
from app.config import Settings
from app.server import serve, serve_workers

log = logging.getLogger(__name__)


def run_role(role: str, settings: Settings) -> None:
    """Runs until SIGTERM or SIGINT."""
    if role == "all":
        run_all(settings)
    elif role == "api":
        serve_api(settings)
    elif role in ("consumers", "scheduler"):
        groups = consumer_groups(role == "consumers")
        asyncio.run(until_signalled(settings, groups, scheduler=role == "scheduler"))
    else:
        raise ValueError(f"no such role: {role!r}")


def run_all(settings: Settings) -> None:
    """The API in worker processes, the consumers and scheduler beside them in this one."""
    groups = consumer_groups(settings.run_consumers)
    if not groups and not settings.run_scheduler:
        serve_api(settings)
        return
    background = BackgroundThread(settings, groups, settings.run_scheduler)
    with background:
        serve_workers(settings)
    if background.failed:
        raise SystemExit(1)


def serve_api(settings: Settings) -> None:
    if settings.api_workers > 1:
        serve_workers(settings)
    else:
        serve(settings)


class BackgroundThread:
    """The consumers and scheduler on an event loop of their own, beside uvicorn's supervisor,
    which keeps the main thread for its signals. Leaving the block stops them gracefully.

    If they end on an error, the whole process stops (SIGTERM to itself, which uvicorn's
    supervisor handles) and `failed` is set: a service whose consumers died must not go on
    answering 202 as if whole; whatever supervises it starts it again."""

    def __init__(self, settings: Settings, groups: Sequence[str], scheduler: bool) -> None:
        self._loop = asyncio.new_event_loop()
        self._stopping = asyncio.Event()
        self._work = run_background(settings, groups, scheduler, self._stopping)
        self._niceness = settings.background_niceness
        self._thread = threading.Thread(target=self._run, name="background")
        self.failed = False

    def _run(self) -> None:
        lower_priority(self._niceness)
        try:
            self._loop.run_until_complete(self._work)
        except Exception:
            log.exception("the consumers and scheduler stopped on an error; stopping the service")
            self.failed = True
            os.kill(os.getpid(), signal.SIGTERM)

    def __enter__(self) -> BackgroundThread:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join()
        self._loop.close()


def lower_priority(by: int) -> None:
    """This thread's niceness raised by `by` (to 19 at most). Linux gives each thread one of
    its own, which threads and processes started from it (a fallback run, say) inherit. Not
    being able to is no reason to stop: the work runs at the process's priority instead."""
    thread = threading.get_native_id()
    try:
        niceness = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness + by))
    except OSError as error:
        log.warning("the consumers and scheduler keep the API's CPU priority: %s", error)
