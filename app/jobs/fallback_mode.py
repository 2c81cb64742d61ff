"""`python -m app.jobs fallback-mode [auto|manual|off]`: show or change the mode at run time."""

from __future__ import annotations

import argparse

import asyncpg

from app.config import FallbackMode, get_settings
from app.db import model_queries as queries


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mode", nargs="?", choices=[mode.value for mode in FallbackMode])


async def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    connection = await asyncpg.connect(settings.database_url)
    try:
        if args.mode:
            await queries.set_fallback_mode(connection, FallbackMode(args.mode))
        mode = await queries.fallback_mode(connection, settings.fallback_mode)
    finally:
        await connection.close()
    print(f"fallback mode: {mode.value}")
    return 0
