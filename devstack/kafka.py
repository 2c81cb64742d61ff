"""Apache Kafka, a single KRaft node (broker and controller), from Maven Central's jars."""

from __future__ import annotations

import base64
import string
import uuid
from pathlib import Path

from devstack.maven import copy_runtime_jars
from devstack.paths import SOURCE_DIR, cache_dir, content_key
from devstack.probes import probe_kafka
from devstack.process import require_tool, run_checked, running_pid, spawn, terminate
from devstack.service import LocalService

POM = SOURCE_DIR / "kafka" / "pom.xml"
JVM_OPTIONS = ["-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true"]


class Kafka(LocalService):
    name = "kafka"
    host = "127.0.0.1"
    port = 9092
    controller_port = 9093
    ready_timeout_seconds = 90.0
    launcher: tuple[str, ...] = ()  # a prefix for the broker's command, e.g. `ip netns exec`

    @property
    def libs(self) -> Path:
        return cache_dir() / f"kafka-{content_key(POM)}" / "libs"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def prepare(self) -> None:
        require_tool("java", "a Java 17+ runtime (Debian: openjdk-17-jre-headless)")
        copy_runtime_jars(POM, self.libs, "Kafka's jars")

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self._format_storage()
        spawn(
            [
                *self.launcher,
                "java",
                *JVM_OPTIONS,
                *self._log_options(),
                "-cp",
                f"{self.libs}/*",
                "kafka.Kafka",
                str(self.config_file),
            ],
            self.pid_file,
            self.log_file,
        )

    def stop(self) -> bool:
        return terminate(self.pid_file, grace_seconds=30)

    def pid(self) -> int | None:
        return running_pid(self.pid_file)

    async def probe(self) -> str:
        return await probe_kafka(f"{self.host}:{self.port}", timeout=3)

    def _write_config(self) -> None:
        template = string.Template(
            (SOURCE_DIR / "kafka" / "server.properties.template").read_text()
        )
        self.config_file.write_text(
            template.substitute(
                host=self.host,
                port=self.port,
                controller_port=self.controller_port,
                data_dir=self.data_dir,
            )
        )

    def _format_storage(self) -> None:
        cluster_id_file = self.home / "cluster.id"
        if not cluster_id_file.exists():
            cluster_id_file.write_text(new_cluster_id())
        run_checked(
            [
                "java",
                *JVM_OPTIONS,
                *self._log_options(),
                "-cp",
                f"{self.libs}/*",
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id_file.read_text().strip(),
                "-c",
                str(self.config_file),
                "-g",
            ],
            "formatting Kafka's log directory",
        )

    def _log_options(self) -> list[str]:
        return [f"-Dlog4j2.configurationFile={SOURCE_DIR / 'kafka' / 'log4j2.properties'}"]


def new_cluster_id() -> str:
    """KRaft's cluster id: a UUID as 22 characters of URL-safe base64. Like Kafka's own, never
    one that starts with "-": the storage tool would read it as an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
