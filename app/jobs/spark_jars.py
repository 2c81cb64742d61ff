"""`python -m app.jobs spark-jars DIR [--packages COORDINATES]`: fetch Spark's jars from Maven
coordinates (default SPARK_JARS_PACKAGES) into a folder, for SPARK_JARS to name; the Docker
image does it at build time."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from app.bootstrap import Resources
from app.model.spark_stream import split_list
from jobs.spark.packages import fetch_packages


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", type=Path, help="the folder to put the jars in")
    parser.add_argument(
        "--packages", help="Maven coordinates, comma-separated (default: SPARK_JARS_PACKAGES)"
    )


async def run(args: argparse.Namespace, resources: Resources) -> int:
    packages = split_list(args.packages or resources.settings.spark_jars_packages)
    if not packages:
        print("spark-jars: no coordinates: pass --packages or set SPARK_JARS_PACKAGES",
              file=sys.stderr)  # fmt: skip
        return 2
    jars = await asyncio.to_thread(fetch_packages, packages, args.target)
    print(f"spark-jars: {len(jars)} jars in {args.target}")
    return 0
