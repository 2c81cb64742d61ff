"""`python -m app.consumers [group ...]`: run consumers on their own, to scale out."""

from __future__ import annotations

import argparse
import asyncio

from app.background import until_signalled
from app.config import get_settings
from app.consumers.groups import GROUPS
from app.logs import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m app.consumers", description=__doc__)
    parser.add_argument("groups", nargs="*", choices=list(GROUPS), default=list(GROUPS))
    args = parser.parse_args()
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(until_signalled(settings, args.groups, scheduler=False))


if __name__ == "__main__":
    main()
