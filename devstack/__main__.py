"""`python -m devstack up|down|status [service ...]`: the local stack, on 127.0.0.1 only."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from devstack.ferretdb import FerretDB
from devstack.kafka import Kafka
from devstack.paths import cache_dir, state_dir
from devstack.postgres import PostgreSQL
from devstack.process import StackError, port_open
from devstack.secrets import ensure_secrets
from devstack.service import LocalService
from devstack.spark_jars import fetch_spark_jars

SERVICES: dict[str, LocalService] = {s.name: s for s in (PostgreSQL(), FerretDB(), Kafka())}


def up(services: list[LocalService]) -> None:
    fetch_spark_jars()
    if generated := ensure_secrets(state_dir()):
        print(f"secrets   generated {', '.join(generated)} in {state_dir()} (make env shows them)")
    for service in services:
        service.prepare()
    started = []
    for service in services:
        if service.pid() is not None and asyncio.run(service.is_ready()):
            print(f"{service.name:9} already running (pid {service.pid()})")
            continue
        if service.pid() is None and port_open(service.port):
            raise StackError(
                f"{service.name}: port {service.port} is taken by a process this stack did not"
                " start"
                " (stop it, or point the settings at it and skip `make up`)"
            )
        service.start()
        started.append(service)
    for service in started:
        service.wait_ready()
        print(f"{service.name:9} started on 127.0.0.1:{service.port} (pid {service.pid()})")
    postgres = SERVICES["postgres"]
    if postgres in services and asyncio.run(postgres.create_database()):
        print("postgres  created the database")


def down(services: list[LocalService]) -> None:
    for service in reversed(services):
        print(f"{service.name:9} {'stopped' if service.stop() else 'was not running'}")


def status(services: list[LocalService]) -> bool:
    all_ready = True
    for service in services:
        pid = service.pid()
        ready = pid is not None and asyncio.run(service.is_ready())
        all_ready &= ready
        state = "ready" if ready else ("starting or unhealthy" if pid else "stopped")
        print(
            f"{service.name:9} {state:22} 127.0.0.1:{service.port}  pid={pid or '-'}  "
            f"log={service.log_file}"
        )
    print(f"state: {state_dir()}\ncache: {cache_dir()}")
    return all_ready


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument(
        "services",
        nargs="*",
        metavar="service",
        help=f"any of {', '.join(SERVICES)} (default: all)",
    )
    args = parser.parse_args(argv)
    unknown = set(args.services) - set(SERVICES)
    if unknown:
        parser.error(f"unknown service(s): {', '.join(sorted(unknown))}")
    # Readiness polling expects refused connections; the client's retry chatter is noise here.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    services = [SERVICES[name] for name in args.services] or list(SERVICES.values())
    try:
        if args.command == "up":
            up(services)
        elif args.command == "down":
            down(services)
        else:
            return 0 if status(services) else 1
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
