"""Long first-run steps (downloads, builds) that say what they do and how far along they are,
instead of minutes of silence."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TextIO

from devstack.process import StackError


@dataclass(frozen=True)
class Counting:
    """Output lines that mark a unit of progress: `pattern` matches them, `unit` names them."""

    pattern: str
    unit: str


MAVEN_DOWNLOADS = Counting(r"^(\[INFO\] )?Downloaded from ", "files downloaded")  # -B adds [INFO]
GO_PACKAGES = Counting(r"^[\w.\-]+(/[\w.\-~]+)+$", "packages built")
APT_FETCHES = Counting(r"^Get:\d+ ", "packages fetched")


def run_reported(
    command: list[str],
    what: str,
    counting: Counting,
    *,
    every_seconds: float = 10.0,
    out: TextIO = sys.stdout,
    **popen: object,
) -> None:
    """Runs the command, printing what it does, a line every `every_seconds` with the time
    and the units counted so far, and how long it took; StackError with its last output if
    it fails."""
    started = time.monotonic()
    print(f"{what}…", file=out, flush=True)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
        **popen,
    )  # fmt: skip
    pattern, count, tail = re.compile(counting.pattern), [0], deque(maxlen=40)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            tail.append(line)
            if pattern.search(line.rstrip("\n")):
                count[0] += 1

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    next_report = started + every_seconds
    while process.poll() is None:
        time.sleep(0.2)
        if time.monotonic() >= next_report:
            elapsed = time.monotonic() - started
            print(f"  {what}: {elapsed:.0f} s, {count[0]} {counting.unit}", file=out, flush=True)
            next_report += every_seconds
    reader.join(timeout=5)  # a grandchild may hold the pipe open after the step ended
    elapsed = time.monotonic() - started
    if process.returncode != 0:
        raise StackError(f"{what} failed ({' '.join(command)}):\n{''.join(tail)}")
    print(f"  {what}: done in {elapsed:.0f} s ({count[0]} {counting.unit})", file=out, flush=True)
