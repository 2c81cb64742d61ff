"""`python -m app.jobs spark [--available-now]`: the Spark stream that builds fact_user_event
and dim_session; with --available-now it drains what Kafka holds and exits."""

from __future__ import annotations

import argparse
import asyncio
import logging

from app.config import get_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--available-now", action="store_true", help="process what is in Kafka now, then stop"
    )


async def run(args: argparse.Namespace) -> int:
    from jobs.spark.stream import run_stream  # starts a JVM: only for this command

    logging.getLogger("py4j").setLevel(logging.WARNING)  # a line per call to the JVM otherwise
    await asyncio.to_thread(run_stream, get_settings(), args.available_now)
    return 0
