"""FerretDB on SQLite: the MongoDB wire protocol, built once from the Go module proxy."""

from __future__ import annotations

import os
from pathlib import Path

from devstack.paths import SOURCE_DIR, cache_dir, content_key
from devstack.probes import probe_mongo
from devstack.process import require_tool, running_pid, spawn, terminate
from devstack.progress import GO_PACKAGES, run_reported
from devstack.service import LocalService

MODULE_DIR = SOURCE_DIR / "ferretdb"


class FerretDB(LocalService):
    name = "ferretdb"
    port = 27017
    ready_timeout_seconds = 30.0

    @property
    def binary(self) -> Path:
        key = content_key(MODULE_DIR / "go.sum", MODULE_DIR / "main.go")
        return cache_dir() / "bin" / f"ferretdb-{key}"

    @property
    def pid_file(self) -> Path:
        return self.home / "ferretdb.pid"

    def prepare(self) -> None:
        if self.binary.exists():
            return
        require_tool("go", "Go 1.24 or newer")
        self.binary.parent.mkdir(parents=True, exist_ok=True)
        run_reported(
            ["go", "build", "-v", "-trimpath", "-o", str(self.binary), "."],
            "building FerretDB (first run only)",
            GO_PACKAGES,
            cwd=MODULE_DIR,
            env={**os.environ, "CGO_ENABLED": "0"},
        )

    def start(self) -> None:
        data = self.home / "sqlite"
        data.mkdir(parents=True, exist_ok=True)
        spawn(
            [str(self.binary), f"-listen-addr=127.0.0.1:{self.port}", f"-sqlite-dir={data}"],
            self.pid_file,
            self.log_file,
        )

    def stop(self) -> bool:
        return terminate(self.pid_file)

    def pid(self) -> int | None:
        return running_pid(self.pid_file)

    async def probe(self) -> str:
        return await probe_mongo(f"mongodb://127.0.0.1:{self.port}/", timeout=3)
