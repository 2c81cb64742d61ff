"""The faults of a run: which target, SIGKILL or a SIGSTOP pause, and for how long, in an order
drawn from a seed; and injecting one with its recovery."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Kind = Literal["kill", "pause"]
KINDS: tuple[Kind, ...] = ("kill", "pause")


class Target(Protocol):
    name: str

    def kill(self) -> None: ...
    def restart(self) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...


@dataclass(frozen=True)
class Fault:
    target: str
    kind: Kind
    hold_seconds: float  # paused for, or down for before the restart


def plan_faults(
    rng: random.Random, targets: Sequence[str], count: int, hold: tuple[float, float] = (2, 8)
) -> list[Fault]:
    """Rounds over every target, each round in a new random order, so every target is hit
    about as often and none twice before the others; each target's faults alternate between
    the kinds, from a random first one."""
    next_kind = {target: rng.randrange(len(KINDS)) for target in targets}
    faults: list[Fault] = []
    while len(faults) < count:
        for target in rng.sample(list(targets), len(targets)):
            kind = KINDS[next_kind[target] % len(KINDS)]
            next_kind[target] += 1
            faults.append(Fault(target, kind, round(rng.uniform(*hold), 1)))
    return faults[:count]


def inject(fault: Fault, target: Target) -> None:
    """The fault, held, then undone: a killed target is started again."""
    if fault.kind == "kill":
        target.kill()
        time.sleep(fault.hold_seconds)
        target.restart()
    else:
        target.pause()
        try:
            time.sleep(fault.hold_seconds)
        finally:
            target.resume()
