"""Jars from Maven Central into the cache, whole or not at all."""

from __future__ import annotations

import shutil
from pathlib import Path

from devstack.process import require_tool
from devstack.progress import MAVEN_DOWNLOADS, run_reported


def copy_runtime_jars(pom: Path, target: Path, what: str) -> Path:
    """Every runtime jar the pom names, copied into `target` (skipped when it exists)."""
    if target.is_dir():
        return target
    require_tool("mvn", "Maven (Debian: maven)")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    run_reported(
        ["mvn", "-B", "-f", str(pom), "dependency:copy-dependencies",
         "-DincludeScope=runtime", f"-DoutputDirectory={partial}"],
        f"fetching {what} from Maven Central (first run only)",
        MAVEN_DOWNLOADS,
    )  # fmt: skip
    partial.rename(target)  # only a complete download takes the cache's name
    return target
