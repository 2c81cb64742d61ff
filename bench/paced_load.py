"""A steady rate of event batches from Debian's `wrk`, a native load generator in a process of
its own: the generator's cost stays off the pipeline's CPU budget as far as it can on one
machine.

The bodies come from a pool of simulated batches written to a file, taken in turn, and in each
request every id marker is replaced with random hex digits of its own, so each request's events
are new. Each of wrk's threads keeps a schedule: request n of a thread is due at its start plus
n times its interval, whatever the answers (open loop, up to `connections` in flight). A slot
more than `late_ms` past due is skipped and counted late: the service did not keep up.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

THREADS = 2
TIMEOUT_SECONDS = 10
RESULT = re.compile(rb"^paced (\d+) (\d+) (\d+) (\d+) (\d+)$", re.MULTILINE)


@dataclass(frozen=True)
class PacedLoad:
    requests: int  # answered
    accepted: int  # answered 202
    late: int  # slots skipped: the service answered too slowly to send them in time
    errors: int  # connections refused and requests timed out
    p99_ms: float

    @property
    def failed(self) -> int:
        return self.requests - self.accepted + self.late + self.errors


def write_pool(bodies: list[bytes], path: Path) -> None:
    """One JSON body per line (orjson writes no raw newline inside one)."""
    path.write_bytes(b"\n".join(bodies) + b"\n")


def lua_paced(pool_file: Path, marker: str, interval_ms: float, late_ms: float) -> str:
    marker_pattern = marker.replace("-", "%-")  # a Lua pattern: "-" is special
    return f"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct {{ long tv_sec; long tv_nsec; }} paced_timespec;
int clock_gettime(int clk_id, paced_timespec *tp);
]]
local clock = ffi.new("paced_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
local bodies = {{}}
for line in io.lines("{pool_file}") do bodies[#bodies + 1] = line end
wrk.method = "POST"
wrk.path = "/events"
wrk.headers["Content-Type"] = "application/json"

local threads = {{}}
function setup(thread)
  threads[#threads + 1] = thread
  thread:set("id", #threads)
end

local interval, late_ms = {interval_ms}, {late_ms}
local due, n = nil, 0
late, accepted, answered = 0, 0, 0
function init(args)
  math.randomseed(os.time() * 1000 + id)
  n = id
end
function delay()
  local now = now_ms()
  if due == nil then due = now + (id - 1) * interval / {THREADS} end
  while now - due > late_ms do
    due = due + interval
    late = late + 1
  end
  local wait = math.max(0, due - now)
  due = due + interval
  return wait
end
local function fresh()
  return string.format("%08x-%04x", math.random(0, 4294967295), math.random(0, 65535))
end
request = function()
  n = n % #bodies + 1
  return wrk.format(nil, nil, nil, (bodies[n]:gsub("{marker_pattern}", fresh)))
end
response = function(status, headers, body)
  answered = answered + 1
  if status == 202 then accepted = accepted + 1 end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("answered")
    b = b + thread:get("accepted")
    c = c + thread:get("late")
  end
  -- Not read or write errors: a server closing a connection that sat idle past its
  -- keep-alive (low rates, many connections) makes one, and wrk sends on a new connection.
  local e = summary.errors
  io.write(string.format("paced %d %d %d %d %d\\n", a, b, c,
    e.connect + e.timeout, latency:percentile(99)))
end
"""


class PacedWrk:
    """wrk posting `rate` events/s in batches from a pool file, for `seconds`."""

    def __init__(self, base_url: str, script_file: Path, seconds: float, connections: int) -> None:
        self.command = [
            "wrk", f"-t{THREADS}", f"-c{connections}", f"-d{round(seconds)}s",
            f"--timeout={TIMEOUT_SECONDS}s", "-s", str(script_file), base_url,
        ]  # fmt: skip
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> int:
        self.process = await asyncio.create_subprocess_exec(
            *self.command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        return self.process.pid

    async def result(self) -> PacedLoad:
        assert self.process is not None
        out, err = await self.process.communicate()
        if not (found := RESULT.search(out)):
            raise RuntimeError(f"wrk said: {out.decode()[-2000:]} {err.decode()[-2000:]}")
        answered, accepted, late, errors, p99_us = map(int, found.groups())
        return PacedLoad(answered, accepted, late, errors, p99_us / 1000)


def script_for(
    folder: Path, bodies: list[bytes], marker: str, rate: float, batch: int, late_ms: float
) -> Path:
    """The pool and the Lua script of one rate, written to `folder`; the script's path."""
    pool = folder / "pool.jsonl"
    if not pool.exists():
        write_pool(bodies, pool)
    script = folder / f"paced-{rate:g}.lua"
    interval_ms = 1000 * THREADS * batch / rate  # each thread's share of the rate
    script.write_text(lua_paced(pool, marker, interval_ms, late_ms))
    return script
