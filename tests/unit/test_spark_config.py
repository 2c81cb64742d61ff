"""The Spark job's plain configuration: jars from files or folders, JDBC from the URL, and the
settings that choose them."""

from __future__ import annotations

from pathlib import Path

import pyspark
import pytest

from app.config import Settings
from app.model.spark_stream import stream_config
from jobs.spark.packages import jars_to_keep
from jobs.spark.session import artifact_name, extra_jars, jdbc_options


def test_artifact_name_drops_the_version():
    assert artifact_name(Path("kafka-clients-3.9.2.jar")) == "kafka-clients"
    assert artifact_name(Path("spark-sql-kafka-0-10_2.13-4.2.0.jar")) == "spark-sql-kafka-0-10_2.13"


def test_extra_jars_takes_files_and_folders_and_skips_what_pyspark_ships(tmp_path):
    shipped = next((Path(pyspark.__file__).parent / "jars").glob("*.jar"))
    folder = tmp_path / "jars"
    folder.mkdir()
    for name in ("postgresql-42.7.4.jar", shipped.name, "notes.txt"):
        (folder / name).write_text("")
    single = tmp_path / "spark-sql-kafka-0-10_2.13-4.2.0.jar"
    single.write_text("")

    jars = extra_jars([str(folder), str(single)])

    assert jars == [str(folder / "postgresql-42.7.4.jar"), str(single)]


def test_a_missing_jar_path_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        extra_jars([str(tmp_path / "nowhere")])


def test_jdbc_options_from_the_database_url():
    options = jdbc_options("postgresql://an%40alyst:p%3Ass@db.internal:6543/movies")
    assert options == {
        "url": "jdbc:postgresql://db.internal:6543/movies?reWriteBatchedInserts=true",
        "driver": "org.postgresql.Driver",
        "user": "an@alyst",
        "password": "p:ss",
    }


def test_the_stream_takes_master_jars_and_packages_from_settings():
    settings = Settings(
        spark_master="spark://127.0.0.1:7077",
        spark_jars="/opt/jars, /opt/more.jar",
        spark_jars_packages="org.postgresql:postgresql:42.7.4",
        spark_driver_memory="2g",
    )
    config = stream_config(settings, available_now=True)
    assert config.spark.master == "spark://127.0.0.1:7077"
    assert config.spark.jars == ("/opt/jars", "/opt/more.jar")
    assert config.spark.packages == ("org.postgresql:postgresql:42.7.4",)
    assert config.spark.driver_memory == "2g"
    assert config.available_now
    assert config.checkpoint_dir == settings.spark_checkpoint_dir
    assert config.topics == ("user_watch_log", "user_click_log", "user_comment_log")


def test_fetched_jars_take_maven_names_and_leave_out_what_pyspark_ships():
    resolved = [Path("/ivy/jars/org.apache.spark_spark-sql-kafka-0-10_2.13-4.2.0.jar"),
                Path("/ivy/jars/org.apache.hadoop_hadoop-client-api-3.5.0.jar"),
                Path("/ivy/jars/org.postgresql_postgresql-42.7.14.jar")]  # fmt: skip
    kept = jars_to_keep(resolved, shipped={"hadoop-client-api"})
    assert list(kept.values()) == ["spark-sql-kafka-0-10_2.13-4.2.0.jar", "postgresql-42.7.14.jar"]
