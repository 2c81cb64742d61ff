"""Answers kept per process, and refreshed behind the requests when the model moves.

An answer is kept by its question (the route, its parameters, today's date) with the `as_of` it
was read at. While `as_of` has not moved and the answer is younger than the `max-age` clients are
told, it is served as it is. Once the model moves (Spark commits every few seconds) or the answer
ages, it is still served, saying its own `as_of`, while one refresh per question runs in the
background; only an answer older than `max-age` plus `stale_seconds` makes a request wait. So the
requests never queue behind the recomputations a moving model causes: those were the read API's
tail. Refreshes run a few at a time, so a burst of moved questions does not take every
connection. `as_of` itself is read once a second, behind the requests too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

AS_OF_SECONDS = 1.0
log = logging.getLogger(__name__)
Compute = Callable[[], Awaitable[bytes]]


@dataclass(frozen=True)
class Kept:
    as_of: datetime | None
    body: bytes
    read_at: float  # the cache's clock


class AnswerCache:
    def __init__(
        self,
        max_answers: int,
        max_age_seconds: float,
        stale_seconds: float = 0.0,
        refreshes: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._max_answers = max_answers
        self._max_age = max_age_seconds
        self._stale = stale_seconds
        self._answers: OrderedDict[str, Kept] = OrderedDict()
        self._computing: dict[str, asyncio.Future[Kept]] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._refresh_slots = asyncio.Semaphore(refreshes)
        self._as_of: datetime | None = None
        self._as_of_expires = 0.0
        self._known = False
        self._reading: asyncio.Task[datetime | None] | None = None

    async def as_of(self, read: Callable[[], Awaitable[datetime | None]]) -> datetime | None:
        """The model's `as_of`, read again once a second behind the requests, which take the
        last one read meanwhile; only the first read is waited for."""
        if self._max_age == 0:
            return await read()
        if self._clock() >= self._as_of_expires and self._reading is None:
            self._reading = asyncio.create_task(self._read_as_of(read))
            self._reading.add_done_callback(lambda task: task.cancelled() or task.exception())
        if self._known or self._reading is None:
            return self._as_of
        return await asyncio.shield(self._reading)

    async def _read_as_of(self, read: Callable[[], Awaitable[datetime | None]]) -> datetime | None:
        try:
            as_of = await read()
        except Exception as error:
            if not self._known:
                raise
            log.debug("reading as_of failed: %s", type(error).__name__)  # the last one stands
            return self._as_of
        finally:
            self._reading = None
        self._as_of, self._known = as_of, True
        self._as_of_expires = self._clock() + min(AS_OF_SECONDS, self._max_age)
        return as_of

    async def answer(self, question: str, as_of: datetime | None, compute: Compute) -> Kept:
        """The answer to `question` for the model at `as_of`: kept, kept while a refresh runs,
        or computed once for every request that asks meanwhile."""
        if not self.keeps_answers:
            return Kept(as_of, await compute(), self._clock())
        kept = self._answers.get(question)
        if kept is not None:
            age = self._clock() - kept.read_at
            if kept.as_of == as_of and age < self._max_age:
                self._answers.move_to_end(question)
                return kept
            if age < self._max_age + self._stale:
                self._answers.move_to_end(question)
                self._refresh(question, as_of, compute)
                return kept
        return await self._computed(question, as_of, compute)

    async def _computed(self, question: str, as_of: datetime | None, compute: Compute) -> Kept:
        if (pending := self._computing.get(question)) is not None:
            return await asyncio.shield(pending)
        pending = asyncio.get_running_loop().create_future()
        self._computing[question] = pending
        try:
            kept = Kept(as_of, await compute(), self._clock())
        except asyncio.CancelledError:
            pending.cancel()
            raise
        except BaseException as error:
            pending.set_exception(error)
            pending.exception()  # retrieved: no one may be waiting
            raise
        finally:
            del self._computing[question]
        pending.set_result(kept)
        self._put(question, kept)
        return kept

    def _refresh(self, question: str, as_of: datetime | None, compute: Compute) -> None:
        if question in self._computing or question in self._refreshing:
            return
        task = asyncio.create_task(self._refreshed(question, as_of, compute))
        self._refreshing[question] = task
        task.add_done_callback(lambda _: self._refreshing.pop(question, None))

    async def _refreshed(self, question: str, as_of: datetime | None, compute: Compute) -> None:
        async with self._refresh_slots:
            try:
                await self._computed(question, as_of, compute)
            except Exception as error:  # the kept answer stands until it is too old
                log.debug("refreshing an answer failed: %s", type(error).__name__)

    async def close(self) -> None:
        tasks = [*self._refreshing.values(), *([self._reading] if self._reading else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def keeps_answers(self) -> bool:
        return self._max_answers > 0 and self._max_age > 0

    def _put(self, question: str, kept: Kept) -> None:
        earlier = self._answers.get(question)
        if earlier and earlier.as_of and kept.as_of and kept.as_of < earlier.as_of:
            return  # a slow computation for an older model ended after a newer one
        self._answers[question] = kept
        self._answers.move_to_end(question)
        while len(self._answers) > self._max_answers:
            self._answers.popitem(last=False)
