"""The jars Spark needs beyond pyspark's own: the Kafka source and the PostgreSQL JDBC driver.

They land in a folder named by the pom's digest; `spark-jars` beside it always points at the
current one, and is where the project's settings look by default.
"""

from __future__ import annotations

import os
from pathlib import Path

from devstack.maven import copy_runtime_jars
from devstack.paths import SOURCE_DIR, cache_dir, content_key

POM = SOURCE_DIR / "spark" / "pom.xml"


def jar_dir() -> Path:
    return cache_dir() / f"spark-jars-{content_key(POM)}"


def fetch_spark_jars() -> Path:
    target = copy_runtime_jars(POM, jar_dir(), "Spark's Kafka connector and JDBC driver")
    link = cache_dir() / "spark-jars"
    if not link.is_symlink() or link.readlink() != Path(target.name):
        staged = link.with_name(f"spark-jars.{os.getpid()}")
        staged.unlink(missing_ok=True)
        staged.symlink_to(target.name)
        staged.replace(link)  # atomic: a running job never sees the link missing
    return target
