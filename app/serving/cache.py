"""Answers kept per process, briefly, while the model they were read from has not moved.

An answer is keyed by its ETag, which follows from `as_of` and the query: once Spark or a
promotion commits, `as_of` moves and every key with it. An answer also expires after the
`max-age` clients are told anyway, so a write that leaves `as_of` alone (a rollup rebuild) shows
within that time. `as_of` itself is read at most once a second, so a burst of requests costs one
query.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime

AS_OF_SECONDS = 1.0


class AnswerCache:
    def __init__(
        self,
        max_answers: int,
        max_age_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._max_answers = max_answers
        self._max_age = max_age_seconds
        self._answers: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._computing: dict[str, asyncio.Future[bytes]] = {}
        self._as_of: datetime | None = None
        self._as_of_expires = 0.0

    async def as_of(self, read: Callable[[], Awaitable[datetime | None]]) -> datetime | None:
        now = self._clock()
        if now >= self._as_of_expires or self._max_age == 0:
            self._as_of = await read()
            self._as_of_expires = now + min(AS_OF_SECONDS, self._max_age)
        return self._as_of

    async def answer(self, key: str, compute: Callable[[], Awaitable[bytes]]) -> bytes:
        """The kept answer, or one computation of it shared by every request that asks for it
        meanwhile: a burst of the same query costs PostgreSQL one query, not one each."""
        if not self.keeps_answers:
            return await compute()
        kept = self.get(key)
        if kept is not None:
            return kept
        if (pending := self._computing.get(key)) is not None:
            return await asyncio.shield(pending)
        pending = asyncio.get_running_loop().create_future()
        self._computing[key] = pending
        try:
            answer = await compute()
        except asyncio.CancelledError:
            pending.cancel()
            raise
        except BaseException as error:
            pending.set_exception(error)
            pending.exception()  # retrieved: no one may be waiting
            raise
        finally:
            del self._computing[key]
        pending.set_result(answer)
        self.put(key, answer)
        return answer

    def get(self, key: str) -> bytes | None:
        kept = self._answers.get(key)
        if kept is None:
            return None
        expires, answer = kept
        if self._clock() >= expires:
            del self._answers[key]
            return None
        self._answers.move_to_end(key)
        return answer

    @property
    def keeps_answers(self) -> bool:
        return self._max_answers > 0 and self._max_age > 0

    def put(self, key: str, answer: bytes) -> None:
        if not self.keeps_answers:
            return
        self._answers[key] = (self._clock() + self._max_age, answer)
        self._answers.move_to_end(key)
        while len(self._answers) > self._max_answers:
            self._answers.popitem(last=False)
