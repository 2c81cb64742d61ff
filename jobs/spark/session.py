"""A Spark session sized for two cores, with the Kafka source and the PostgreSQL JDBC driver."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from pyspark.sql import SparkSession

from app.config import Settings
from devstack.spark_jars import spark_extra_jars


def build_spark_session(app_name: str) -> SparkSession:
    jars = ",".join(str(jar) for jar in spark_extra_jars())
    return (
        SparkSession.builder.master("local[2]")
        .appName(app_name)
        .config("spark.jars", jars)
        .config("spark.driver.memory", "1g")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")  # progress bars garble the job's log
        # Bind to loopback only, whatever the host name resolves to.
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


def jdbc_options(settings: Settings) -> dict[str, str]:
    """JDBC url, user and password for Spark's writer, from DATABASE_URL."""
    parts = urlsplit(settings.database_url)
    options = {
        "url": f"jdbc:postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}",
        "driver": "org.postgresql.Driver",
        "user": unquote(parts.username or ""),
    }
    if parts.password:
        options["password"] = unquote(parts.password)
    return options
