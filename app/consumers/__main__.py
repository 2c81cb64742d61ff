"""`python -m app.consumers [group ...]`: run consumers on their own, to scale out."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from app.background import until_signalled
from app.config import get_settings
from app.consumers.groups import GROUPS
from app.logs import configure_logging


def chosen_groups(argv: Sequence[str] | None = None) -> list[str]:
    """The groups named on the command line; all of them when none is."""
    parser = argparse.ArgumentParser(prog="python -m app.consumers", description=__doc__)
    # Checked here, not by `choices`: this Python's argparse checks an empty list against the
    # choices as one value, and refuses it.
    parser.add_argument("groups", nargs="*", metavar="group", help=f"any of: {', '.join(GROUPS)}")
    groups = parser.parse_args(argv).groups
    if unknown := [group for group in groups if group not in GROUPS]:
        parser.error(f"invalid choice: {', '.join(map(repr, unknown))}")
    return groups or list(GROUPS)


def main() -> None:
    groups = chosen_groups()
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(until_signalled(settings, groups, scheduler=False))


if __name__ == "__main__":
    main()
