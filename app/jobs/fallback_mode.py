"""`python -m app.jobs fallback-mode [auto|manual|off]`: show or change the mode at run time."""

from __future__ import annotations

import argparse

from app.bootstrap import Resources
from app.config import FallbackMode
from app.model.fallback import fallback_mode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mode", nargs="?", choices=[mode.value for mode in FallbackMode])


async def run(args: argparse.Namespace, resources: Resources) -> int:
    change_to = FallbackMode(args.mode) if args.mode else None
    mode = await fallback_mode(resources.postgres, resources.settings.fallback_mode, change_to)
    print(f"fallback mode: {mode.value}")
    return 0
