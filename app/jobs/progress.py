"""A progress line on stderr: redrawn in place on a terminal, every tenth otherwise."""

from __future__ import annotations

import sys


class ProgressLine:
    def __init__(self, label: str) -> None:
        self.label = label
        self._last_tenth = -1
        self._interactive = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        total = max(total, 1)
        width = 30
        filled = width * done // total
        line = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        if self._interactive:
            print(f"\r{line}", end="" if done < total else "\n", file=sys.stderr, flush=True)
        elif (tenth := 10 * done // total) != self._last_tenth:
            self._last_tenth = tenth
            print(line, file=sys.stderr, flush=True)
