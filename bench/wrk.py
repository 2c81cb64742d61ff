"""Load from Debian's `wrk`, a native load generator in a process of its own, as users drive
a service: GETs rotating over paths, or one POST body sent again and again, its id markers
renamed in each request where asked."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

ID_MARKER = "00000000-0000"  # each request writes random digits here, in each id


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    failed: int  # answers other than 2xx or 3xx


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: `make bench-tools` (Debian's package)")


def lua_rotating(paths: list[str], authorizations: list[str] | None = None) -> str:
    """GETs of each path in turn; with `authorizations`, each with its own Authorization."""
    listed = ", ".join(f'"{path}"' for path in paths)
    if authorizations is None:
        return (
            f"local paths = {{{listed}}}\nlocal n = 0\n"
            "request = function()\n  n = n % #paths + 1\n"
            '  return wrk.format("GET", paths[n])\nend\n'
        )
    headers = ", ".join(f'"{value}"' for value in authorizations)
    return (
        f"local paths = {{{listed}}}\nlocal auths = {{{headers}}}\nlocal n = 0\n"
        "request = function()\n  n = n % #paths + 1\n"
        '  return wrk.format("GET", paths[n], {Authorization = auths[n]})\nend\n'
    )


def lua_posting(path: str, body_file: Path, content_type: str) -> str:
    return (
        f'local file = io.open("{body_file}", "rb")\nlocal body = file:read("*a")\nfile:close()\n'
        f'wrk.method = "POST"\nwrk.path = "{path}"\nwrk.body = body\n'
        f'wrk.headers["Content-Type"] = "{content_type}"\n'
    )


def lua_posting_renamed(path: str, body_file: Path, headers: dict[str, str], marker: str) -> str:
    """POSTs of one body in which every `marker` ("00000000-0000") is replaced with random hex
    digits of its own in each request, so that ids built around it are new and as random as a
    client's (ids in order would make the stores' inserts cheaper than a client's are)."""
    listed = "".join(f'wrk.headers["{name}"] = "{value}"\n' for name, value in headers.items())
    return (
        f'local file = io.open("{body_file}", "rb")\nlocal body = file:read("*a")\nfile:close()\n'
        f'wrk.method = "POST"\nwrk.path = "{path}"\n{listed}'
        # Each of wrk's threads draws from a sequence of its own.
        "local threads = 0\nfunction setup(thread)\n  threads = threads + 1\n"
        '  thread:set("id", threads)\nend\n'
        "function init(args)\n  math.randomseed(os.time() * 1000 + id)\nend\n"
        "local function fresh()\n"
        '  return string.format("%08x-%04x", math.random(0, 4294967295), math.random(0, 65535))\n'
        "end\n"
        f'local marker = "{marker.replace("-", "%-")}"\n'  # a Lua pattern: "-" is special
        "request = function()\n  return wrk.format(nil, nil, nil, (body:gsub(marker, fresh)))\n"
        "end\n"
    )


def run_wrk(base_url: str, script: str, seconds: int, connections: int) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    command_line = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                    "-s", file.name, base_url]  # fmt: skip
    try:
        output = subprocess.run(command_line, capture_output=True, text=True, check=True).stdout
    finally:
        Path(file.name).unlink()
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if failed:
        print(f"  {failed.group(1)} answers were not 2xx", file=sys.stderr)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return Load(
        rate, percentile(output, "50%"), percentile(output, "99%"),
        int(failed.group(1)) if failed else 0,
    )  # fmt: skip


def percentile(output: str, which: str) -> float:
    value, unit = re.search(rf"{which}\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def with_client_ids(events: list[dict[str, Any]]) -> bytes:
    """The batch as the tracker sends it: each event with a random UUID of the client's, its
    first groups the marker that each request draws anew for each event."""
    with_ids = [{**event, "event_id": f"{ID_MARKER}{str(uuid.uuid4())[13:]}"} for event in events]
    return orjson.dumps(with_ids)
