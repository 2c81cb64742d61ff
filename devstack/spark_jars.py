"""The jars Spark needs beyond pyspark's own: the Kafka source and the PostgreSQL JDBC driver."""

from __future__ import annotations

import shutil
from pathlib import Path

from devstack.paths import SOURCE_DIR, cache_dir, content_key
from devstack.process import StackError, require_tool, run_checked

POM = SOURCE_DIR / "spark" / "pom.xml"


def jar_dir() -> Path:
    return cache_dir() / f"spark-jars-{content_key(POM)}"


def fetch_spark_jars() -> Path:
    target = jar_dir()
    if target.is_dir():
        return target
    require_tool("mvn", "Maven (Debian: maven)")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    run_checked(
        [
            "mvn",
            "-B",
            "-q",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={partial}",
        ],
        "fetching Spark's Kafka connector and JDBC driver from Maven Central",
    )
    partial.rename(target)
    return target


def spark_extra_jars() -> list[Path]:
    """Our jars minus those pyspark already ships, so no class is on the classpath twice."""
    import pyspark

    target = jar_dir()
    if not target.is_dir():
        raise StackError(f"Spark's extra jars are missing from {target}; run `make up` first")
    shipped = {artifact_name(jar) for jar in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}
    return sorted(jar for jar in target.glob("*.jar") if artifact_name(jar) not in shipped)


def artifact_name(jar: Path) -> str:
    """`kafka-clients-3.9.2.jar` → `kafka-clients`."""
    return jar.stem.rsplit("-", 1)[0]
