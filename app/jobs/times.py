"""Command-line times: ISO 8601, read as UTC when they carry no offset."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime


def iso_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def add_range_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=iso_time, help="from this received_at (ISO 8601)")
    parser.add_argument("--until", type=iso_time, help="up to this received_at, excluded")
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would change, change nothing"
    )
