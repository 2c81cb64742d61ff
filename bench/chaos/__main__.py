"""`python -m bench.chaos --minutes N`: steady traffic while faults hit the service, a
standalone consumer, the Spark stream, Kafka, FerretDB and PostgreSQL; then reconcile.

Needs the local stack (`make up`) and nothing else running on it. Exits 1 if an acknowledged
event is lost or duplicated, or the dead-letter topic holds anything but the run's poison.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
from pathlib import Path

from app.config import get_settings
from bench.chaos.run import ChaosPlan, run_chaos
from bench.chaos.table import report_tables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="of traffic and faults")
    parser.add_argument("--rate", type=float, default=100.0, help="simulated events per second")
    parser.add_argument("--seed", type=int, help="the order of the faults; random if unset")
    parser.add_argument("--keep", type=Path, help="a folder for the logs and the answers")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    work_dir = args.keep or Path(tempfile.mkdtemp(prefix="movie-chaos-"))
    print(f"chaos for {args.minutes:g} min at {args.rate:g} events/s, seed {seed}; "
          f"logs in {work_dir}", file=sys.stderr)  # fmt: skip
    plan = ChaosPlan(minutes=args.minutes, seed=seed, work_dir=work_dir, rate=args.rate)
    report = asyncio.run(
        run_chaos(get_settings(), plan, say=lambda line: print(line, file=sys.stderr))
    )
    print(report_tables(report))
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
