"""bench.paced_load: wrk keeps the rate it is given, and every request's events are new."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from bench.paced_load import PacedWrk, script_for

MARKER = "00000000-0000"
RATE, BATCH, SECONDS = 100.0, 5, 3  # 20 requests a second


class Recorder:
    """A loopback HTTP/1.1 server that answers each POST with a 202 (or, once told, a 503)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.status = b"202 Accepted"
        self.close_after_answer = False  # as a server does with a connection idle too long

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while head := await reader.readuntil(b"\r\n\r\n"):
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            self.bodies.append(await reader.readexactly(length))
            writer.write(b"HTTP/1.1 " + self.status + b"\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            if self.close_after_answer:
                writer.close()
                return


def pool() -> list[bytes]:
    return [
        orjson.dumps(
            [{"event_id": f"{MARKER}-4000-8000-{n:06d}{k:06d}", "n": n} for k in range(BATCH)]
        )
        for n in range(4)
    ]


async def run_paced(folder: Path, recorder: Recorder) -> tuple:
    server = await asyncio.start_server(recorder.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        script = script_for(folder, pool(), MARKER, RATE, BATCH, late_ms=1000)
        wrk = PacedWrk(f"http://127.0.0.1:{port}", script, SECONDS, connections=4)
        await wrk.start()
        return await wrk.result()


def test_wrk_posts_at_the_rate_with_new_ids_in_each_request(tmp_path: Path):
    recorder = Recorder()
    load = asyncio.run(run_paced(tmp_path, recorder))
    expected = RATE / BATCH * SECONDS
    assert 0.8 * expected <= load.requests <= expected + 2
    assert load.accepted == load.requests == len(recorder.bodies)
    assert load.late == load.errors == load.failed == 0
    events = [event for body in recorder.bodies for event in orjson.loads(body)]
    assert len({event["event_id"] for event in events}) == len(events) == BATCH * load.requests
    assert MARKER not in {event["event_id"][:13] for event in events}
    assert {event["n"] for event in events} == {0, 1, 2, 3}  # the pool, taken in turn


def test_answers_other_than_202_are_failures(tmp_path: Path):
    recorder = Recorder()
    recorder.status = b"503 Service Unavailable"
    load = asyncio.run(run_paced(tmp_path, recorder))
    assert load.requests > 0 and load.accepted == 0 and load.failed == load.requests


def test_connections_the_server_closes_are_not_failures(tmp_path: Path):
    """At a low rate most connections sit idle past the server's keep-alive and are closed;
    wrk sends on a new one, and every request is still answered."""
    recorder = Recorder()
    recorder.close_after_answer = True
    load = asyncio.run(run_paced(tmp_path, recorder))
    assert load.requests == load.accepted == len(recorder.bodies) > 0
    assert load.failed == 0
