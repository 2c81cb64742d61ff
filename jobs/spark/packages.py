"""Maven coordinates to jar files, resolved as `spark.jars.packages` resolves them (Spark's own
Ivy, with every dependency), for a folder the job then reads through `spark.jars`: an image
built with it starts without the network. Jars pyspark already ships are left out."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import SparkSession

from jobs.spark.session import artifact_name, shipped_artifacts


def fetch_packages(packages: Sequence[str], target: Path) -> list[Path]:
    """The jars of these coordinates and their dependencies, copied into `target`."""
    with tempfile.TemporaryDirectory(prefix="spark-ivy-") as ivy:
        session = (
            SparkSession.builder.master("local[1]")
            .appName("fetch-spark-packages")
            .config("spark.jars.packages", ",".join(packages))
            .config("spark.jars.ivy", ivy)
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        session.stop()
        target.mkdir(parents=True, exist_ok=True)
        kept = jars_to_keep(sorted((Path(ivy) / "jars").glob("*.jar")), shipped_artifacts())
        for jar, name in kept.items():
            shutil.copy2(jar, target / name)
    return [target / name for name in kept.values()]


def jars_to_keep(resolved: Sequence[Path], shipped: set[str]) -> dict[Path, str]:
    """Each resolved jar pyspark does not ship, with its Maven file name: Ivy names a jar
    organisation_artifact-version.jar, Maven (and the local stack's folder) artifact-version.jar."""
    names = {jar: jar.name.split("_", 1)[-1] for jar in resolved}
    return {jar: name for jar, name in names.items() if artifact_name(Path(name)) not in shipped}
