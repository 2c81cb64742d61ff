"""The jars Spark needs beyond pyspark's own: the Kafka source and the PostgreSQL JDBC driver."""

from __future__ import annotations

from pathlib import Path

from devstack.maven import copy_runtime_jars
from devstack.paths import SOURCE_DIR, cache_dir, content_key
from devstack.process import StackError

POM = SOURCE_DIR / "spark" / "pom.xml"


def jar_dir() -> Path:
    return cache_dir() / f"spark-jars-{content_key(POM)}"


def fetch_spark_jars() -> Path:
    return copy_runtime_jars(POM, jar_dir(), "Spark's Kafka connector and JDBC driver")


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
