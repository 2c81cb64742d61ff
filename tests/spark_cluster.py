"""A standalone Spark cluster on 127.0.0.1, a master and one worker, started from pyspark's own
distribution as `spark-class` runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pyspark

from tests.support import free_port

SPARK_HOME = Path(pyspark.__file__).parent


class StandaloneCluster:
    def __init__(self, work_dir: Path, worker_cores: int = 1, worker_memory: str = "1g") -> None:
        self.port, self.ui_port = free_port(), free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.work_dir = work_dir
        self._worker = ("--cores", str(worker_cores), "--memory", worker_memory)
        self._processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        self._spawn("master", "org.apache.spark.deploy.master.Master",
                    "--host", "127.0.0.1", "--port", str(self.port),
                    "--webui-port", str(self.ui_port))  # fmt: skip
        self._spawn("worker", "org.apache.spark.deploy.worker.Worker",
                    "--host", "127.0.0.1", "--webui-port", "0", *self._worker,
                    "--work-dir", str(self.work_dir / "work"), self.url)  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if self.state().get("aliveworkers") == 1:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"no worker joined the master: {self.log_text()}")

    def state(self) -> dict[str, Any]:
        """The master's view: workers, and the running and completed applications."""
        return httpx.get(f"http://127.0.0.1:{self.ui_port}/json/", timeout=2).json()

    def stop(self) -> None:
        for process in reversed(self._processes):
            process.send_signal(signal.SIGTERM)
        for process in self._processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    def log_text(self) -> str:
        return "\n".join(path.read_text()[-3000:] for path in self.work_dir.glob("*.log"))

    def _spawn(self, name: str, main_class: str, *args: str) -> None:
        env = {
            **os.environ,
            "SPARK_HOME": str(SPARK_HOME),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_DAEMON_MEMORY": "256m",
            # No REST submission server: it would take a fixed port.
            "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
        }
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with (self.work_dir / f"{name}.log").open("wb") as log:
            self._processes.append(subprocess.Popen(
                [str(SPARK_HOME / "bin" / "spark-class"), main_class, *args],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            ))  # fmt: skip
