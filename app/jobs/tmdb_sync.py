"""`python -m app.jobs tmdb-sync [--full | --changes] [--pages N]`: the scheduled sync, by hand."""

from __future__ import annotations

import argparse
import sys

from app.bootstrap import Resources
from app.catalogue.sync import sync_catalogue
from app.catalogue.tmdb_client import TmdbError
from app.jobs.progress import ProgressLine


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


async def run(args: argparse.Namespace, resources: Resources) -> int:
    source = resources.movie_source
    print(f"tmdb-sync ({args.kind}) from {source.description}", file=sys.stderr)
    try:
        counts = await sync_catalogue(
            resources.postgres, source, resources.publisher, args.kind,
            pages=args.pages, progress=ProgressLine("movies"),
        )  # fmt: skip
    except TmdbError as error:
        print(f"tmdb-sync failed: {error}", file=sys.stderr)
        return 1
    print(
        f"tmdb-sync done: {counts.fetched} fetched, {counts.changed} new or changed, "
        f"{counts.gone} gone from TMDB"
    )
    return 0
