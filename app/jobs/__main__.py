"""`python -m app.jobs <command>`: jobs operators run by hand."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable

from app.bootstrap import build_resources
from app.config import MissingSetting, get_settings
from app.jobs import (
    audit,
    dead_letters,
    fallback_mode,
    fallback_run,
    forget_user,
    metabase_setup,
    promote,
    reapply_rules,
    rebuild_rollups,
    replay,
    spark_jars,
    spark_stream,
    status,
    storage_upkeep,
    tmdb_sync,
    trace,
    user_token,
)
from app.logs import configure_logging

COMMANDS = {
    "tmdb-sync": tmdb_sync,
    "spark": spark_stream,
    "spark-jars": spark_jars,
    "fallback": fallback_run,
    "fallback-mode": fallback_mode,
    "promote": promote,
    "status": status,
    "rebuild-rollups": rebuild_rollups,
    "reapply-rules": reapply_rules,
    "trace": trace,
    "dead-letters": dead_letters,
    "replay": replay,
    "forget-user": forget_user,
    "metabase-setup": metabase_setup,
    "user-token": user_token,
    "audit": audit,
    "storage-upkeep": storage_upkeep,
}


async def run_command(args: argparse.Namespace) -> int:
    # SIGTERM stops a command as Ctrl-C does, so a run records that it was interrupted. The
    # Spark stream runs on a thread no cancellation reaches: it keeps SIGTERM's plain meaning,
    # which its checkpoint and idempotent writes make safe.
    if args.command != "spark":
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, current_task_cancel())
    async with build_resources(get_settings()) as resources:
        return await COMMANDS[args.command].run(args, resources)


def current_task_cancel() -> Callable[[], object]:
    task = asyncio.current_task()
    assert task is not None
    return task.cancel


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app.jobs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        module.add_arguments(commands.add_parser(name, help=module.__doc__))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(get_settings().log_level, get_settings().log_format)
    try:
        return asyncio.run(run_command(args))
    except MissingSetting as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except asyncio.CancelledError:
        return 128 + signal.SIGTERM


if __name__ == "__main__":
    sys.exit(main())
