"""`python -m app.simulation`: post simulated user traffic to a running service's `POST /events`.

    python -m app.simulation --rate 50 --duration 30 --batch 10 --seed 7

Sends at a steady rate until the duration ends (or SIGINT/SIGTERM), then prints what the
service answered. Exits 1 if it accepted nothing, so scripts notice a dead service.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import httpx
import orjson

from app.config import get_settings
from app.ingest.ids import uuid7
from app.simulation.answer_log import TRANSPORT_ERROR, AnswerLog
from app.simulation.traffic import DEFAULT_MOVIE_IDS, TrafficModel, generate_events

MAX_IN_FLIGHT = 16  # overlapping requests keep the rate while Kafka acknowledges
USER_AGENT = "movie-pipeline-simulator/1"


@dataclass
class Tally:
    requests: int = 0
    sent: int = 0  # events
    accepted: int = 0
    rejected: int = 0  # events refused, alone (422 items) or with their whole request (4xx)
    unavailable: int = 0  # 503 responses: Kafka did not acknowledge in time
    errors: int = 0  # requests that failed otherwise: transport errors, other statuses

    def record(self, batch_size: int, response: httpx.Response) -> list[str]:
        """Counts the answer; returns the ids of the events it accepted."""
        body = response.json() if response.status_code in (202, 422) else {}
        accepted = [item["event_id"] for item in body.get("accepted", ())]
        if "accepted" in body:
            self.accepted += len(body["accepted"])
            self.rejected += len(body["rejected"])
        elif response.status_code == 503:
            self.unavailable += 1
        elif 400 <= response.status_code < 500:
            self.rejected += batch_size
        else:
            self.errors += 1
        return accepted if response.status_code == 202 else []

    def summary(self, url: str, seed: int, seconds: float) -> str:
        return (
            f"simulated {seconds:.1f} s against {url} (seed {seed}): "
            f"requests {self.requests}, sent {self.sent}, accepted {self.accepted}, "
            f"rejected {self.rejected}, 503s {self.unavailable}, errors {self.errors} "
            f"({self.accepted / max(seconds, 1e-9):.1f} accepted events/s)"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="python -m app.simulation", description="Post simulated traffic to POST /events."
    )
    parser.add_argument("--url", default=f"http://{settings.api_host}:{settings.api_port}")
    parser.add_argument("--rate", type=float, default=20.0, help="events per second")
    parser.add_argument(
        "--duration", type=float, default=30.0, help="seconds; 0 runs until stopped"
    )
    parser.add_argument("--batch", type=int, default=10, help="events per request")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument(
        "--movie-ids",
        type=movie_id_list,
        default=DEFAULT_MOVIE_IDS,
        help="comma-separated TMDB ids, most popular first",
    )
    parser.add_argument("--seed", type=int, help="replays the same traffic; random if unset")
    parser.add_argument("--wait", type=float, default=0.0, help="seconds to wait for /health")
    parser.add_argument(
        "--record", type=Path, help="append each request's answer and event ids, as JSON lines"
    )
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.batch < 1 or args.users < 1 or args.duration < 0:
        parser.error("--rate, --batch and --users must be positive, --duration not negative")
    return args


def movie_id_list(text: str) -> tuple[int, ...]:
    try:
        movie_ids = tuple(int(movie_id) for movie_id in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of TMDB ids: {text!r}") from None
    if not movie_ids or min(movie_ids) <= 0:
        raise argparse.ArgumentTypeError("TMDB ids are positive integers")
    return movie_ids


async def wait_for_service(client: httpx.AsyncClient, seconds: float) -> None:
    """Give a service that is still starting some time; the summary tells if it never came."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get("/health")).status_code == 200:
                return
        await asyncio.sleep(0.5)


async def post_batch(
    client: httpx.AsyncClient,
    batch: list[dict[str, Any]],
    tally: Tally,
    slots: asyncio.Semaphore,
    answers: AnswerLog | None,
) -> None:
    answer: int | str = TRANSPORT_ERROR
    accepted: list[str] = []
    try:
        response = await client.post("/events", content=orjson.dumps(batch))
        answer = response.status_code
        accepted = tally.record(len(batch), response)
    except (httpx.HTTPError, ValueError):  # ValueError: a body that is not JSON
        tally.errors += 1
    finally:
        slots.release()
        if answers is not None:
            answers.write(answer, [event["event_id"] for event in batch], accepted)


async def simulate(args: argparse.Namespace, seed: int) -> tuple[Tally, float]:
    model = TrafficModel(users=args.users, movie_ids=args.movie_ids)
    events = generate_events(random.Random(seed), lambda: datetime.now(UTC), model)
    stopping = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stopping.set)
    tally, slots = Tally(), asyncio.Semaphore(MAX_IN_FLIGHT)
    answers = AnswerLog(args.record) if args.record else None
    headers = {"content-type": "application/json", "user-agent": USER_AGENT}
    async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=10) as client:
        await wait_for_service(client, args.wait)
        started = next_send = time.monotonic()
        deadline = started + args.duration if args.duration else float("inf")
        async with asyncio.TaskGroup() as requests:
            while not stopping.is_set() and time.monotonic() < deadline:
                await slots.acquire()
                # Ids minted here, as a browser tracker does, so what was answered can be
                # matched with what the stores hold.
                batch = [{**e, "event_id": uuid7()} for e in islice(events, args.batch)]
                tally.requests, tally.sent = tally.requests + 1, tally.sent + len(batch)
                requests.create_task(post_batch(client, batch, tally, slots, answers))
                # A slow service lowers the rate; the simulator never bursts to catch up.
                next_send = max(next_send + args.batch / args.rate, time.monotonic())
                with contextlib.suppress(TimeoutError):
                    timeout = min(next_send, deadline) - time.monotonic()
                    await asyncio.wait_for(stopping.wait(), max(0.0, timeout))
    if answers is not None:
        answers.close()
    return tally, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"simulating {args.rate:g} events/s against {args.url} (seed {seed})", file=sys.stderr)
    tally, seconds = asyncio.run(simulate(args, seed))
    print(tally.summary(args.url, seed, seconds))
    return 0 if tally.accepted else 1


if __name__ == "__main__":
    sys.exit(main())
