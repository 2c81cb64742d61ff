"""A long first-run step says what it does, how far along it is, and how long it took."""

from __future__ import annotations

import io
import re
import sys

import pytest

from devstack.process import StackError
from devstack.progress import GO_PACKAGES, MAVEN_DOWNLOADS, run_reported

SLOW_DOWNLOADS = """
import time
for n in range(3):
    prefix = "[INFO] " if n else ""  # as Maven writes it in batch mode, and without
    print(f"{prefix}Downloaded from central: https://repo/{n}.jar (1 kB at 9 kB/s)", flush=True)
    time.sleep(0.3)
print("[INFO] BUILD SUCCESS")
"""


def test_progress_lines_count_what_was_downloaded_while_the_step_runs():
    out = io.StringIO()
    run_reported(
        [sys.executable, "-c", SLOW_DOWNLOADS], "fetching jars", MAVEN_DOWNLOADS,
        every_seconds=0.25, out=out,
    )  # fmt: skip
    lines = out.getvalue().splitlines()
    assert lines[0] == "fetching jars…"
    assert any(re.fullmatch(r"  fetching jars: \d+ s, [0-3] files downloaded", line)
               for line in lines[1:-1])  # fmt: skip
    assert re.fullmatch(r"  fetching jars: done in \d+ s \(3 files downloaded\)", lines[-1])


def test_a_failed_step_raises_with_its_last_output():
    failing = "import sys; print('go: module lookup disabled'); sys.exit(3)"
    with pytest.raises(StackError, match="building FerretDB failed") as raised:
        run_reported([sys.executable, "-c", failing], "building FerretDB", GO_PACKAGES,
                     out=io.StringIO())  # fmt: skip
    assert "go: module lookup disabled" in str(raised.value)


def test_go_package_lines_count_and_other_output_does_not():
    pattern = re.compile(GO_PACKAGES.pattern)
    assert pattern.search("github.com/FerretDB/FerretDB/internal/util/must")
    assert not pattern.search("go: downloading github.com/FerretDB/wire v0.0.8")
