"""`python -m app.jobs tmdb-sync [--full | --changes] [--pages N]`: the scheduled sync, by hand."""

from __future__ import annotations

import argparse
import sys

from app.catalogue_sync import run_sync
from app.config import get_settings
from app.jobs.progress import ProgressLine
from app.producers.kafka import KafkaPublisher
from app.producers.tmdb_client import TmdbError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument(
        "--full",
        dest="kind",
        action="store_const",
        const="full",
        help="popular and recent movies, and placeholders (default)",
    )
    kind.add_argument(
        "--changes",
        dest="kind",
        action="store_const",
        const="changes",
        help="the movies TMDB changed since the last changes sync",
    )
    parser.add_argument("--pages", type=int, help="list pages to read (at most 500)")
    parser.set_defaults(kind="full")  # fmt: skip


async def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    publisher = KafkaPublisher(settings.kafka_bootstrap_servers, settings.publish_timeout_seconds)
    source = "TMDB" if settings.tmdb_api_token else "the bundled sample catalogue"
    print(f"tmdb-sync ({args.kind}) from {source}", file=sys.stderr)
    try:
        counts = await run_sync(
            settings, publisher, args.kind, pages=args.pages, progress=ProgressLine("movies")
        )
    except TmdbError as error:
        print(f"tmdb-sync failed: {error}", file=sys.stderr)
        return 1
    finally:
        await publisher.close()
    print(
        f"tmdb-sync done: {counts.fetched} fetched, {counts.changed} new or changed, "
        f"{counts.gone} gone from TMDB"
    )
    return 0
