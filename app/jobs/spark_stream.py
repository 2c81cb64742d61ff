"""`python -m app.jobs spark [--available-now]`: the Spark stream that builds fact_user_event
and dim_session; with --available-now it drains what Kafka holds and exits."""

from __future__ import annotations

import argparse
import asyncio
import logging

from app.bootstrap import Resources
from app.model.spark_stream import StreamGaveUp, stream_config, supervise

log = logging.getLogger(__name__)
DRAIN_ATTEMPTS = 5  # a drain that fails this often in a row stops with an error


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--available-now", action="store_true", help="process what is in Kafka now, then stop"
    )


async def run(args: argparse.Namespace, resources: Resources) -> int:
    from jobs.spark.stream import run_stream  # starts a JVM: only for this command

    logging.getLogger("py4j").setLevel(logging.WARNING)  # a line per call to the JVM otherwise
    config = stream_config(resources.settings, args.available_now)
    give_up_after = DRAIN_ATTEMPTS if args.available_now else None
    try:
        await asyncio.to_thread(
            supervise, run_stream, config, resources.rules, give_up_after=give_up_after
        )
    except StreamGaveUp as gave_up:
        log.error("the Spark drain failed %d times in a row; giving up", gave_up.args[0],
                  exc_info=gave_up.__cause__)  # fmt: skip
        return 1
    return 0
