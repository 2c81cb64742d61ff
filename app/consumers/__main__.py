"""`python -m app.consumers [group ...]`: run consumers on their own, to scale out."""

from __future__ import annotations

import argparse
import asyncio
import signal

from app.bootstrap import build_resources
from app.config import get_settings
from app.consumers.groups import GROUPS, build_runner
from app.consumers.supervisor import ConsumerSupervisor
from app.logs import configure_logging


async def run_groups(group_ids: list[str]) -> None:
    async with build_resources(get_settings()) as resources:
        supervisor = ConsumerSupervisor([build_runner(g, resources) for g in group_ids])
        supervisor.start()
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        await stopping.wait()
        await supervisor.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m app.consumers", description=__doc__)
    parser.add_argument("groups", nargs="*", choices=list(GROUPS), default=list(GROUPS))
    args = parser.parse_args()
    configure_logging(get_settings().log_level)
    asyncio.run(run_groups(args.groups))


if __name__ == "__main__":
    main()
