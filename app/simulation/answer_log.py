"""What the service answered to each simulated request, a JSON line per request, so a run can
be reconciled with the stores afterwards: which events were acknowledged, which refused."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson

TRANSPORT_ERROR = "error"  # no answer: the connection failed or timed out


class AnswerLog:
    def __init__(self, path: Path) -> None:
        self._file: IO[bytes] = path.open("ab")

    def write(self, answer: int | str, sent: list[str], accepted: list[str]) -> None:
        line = orjson.dumps({"answer": answer, "sent": sent, "accepted": accepted})
        self._file.write(line + b"\n")
        self._file.flush()  # a simulator stopped hard keeps every line it finished

    def close(self) -> None:
        self._file.close()


@dataclass
class Answers:
    acknowledged: set[str] = field(default_factory=set)  # event ids a 202 accepted
    by_answer: dict[int | str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @property
    def sent(self) -> int:
        return sum(len(ids) for ids in self.by_answer.values())


def read_answers(path: Path) -> Answers:
    answers = Answers()
    for line in path.read_bytes().splitlines():
        entry = orjson.loads(line)
        answers.by_answer[entry["answer"]].update(entry["sent"])
        answers.acknowledged.update(entry["accepted"])
    return answers
