"""`python -m app.jobs metabase-setup --url URL`: connect Metabase to the analytics layer
through the read-only role, and create the pipeline's dashboard. A second run changes nothing."""

from __future__ import annotations

import argparse
import sys
from urllib.parse import urlsplit

import httpx

from app.bootstrap import Resources
from app.config import Settings
from app.serving.dashboard import DASHBOARD
from app.serving.metabase import MetabaseAdmin, MetabaseError, WarehouseConnection, provision


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", required=True, help="Metabase's address, e.g. http://127.0.0.1:3000"
    )


def warehouse(settings: Settings) -> WarehouseConnection:
    """The model's database as Metabase reaches it, logged in as the read-only role."""
    parts = urlsplit(settings.database_url)
    return WarehouseConnection(
        name="Movie pipeline analytics",
        host=settings.metabase_warehouse_host or parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        dbname=parts.path.lstrip("/"),
        user=settings.analytics_role,
        password=settings.secret("analytics_password"),
    )


async def run(args: argparse.Namespace, resources: Resources) -> int:
    settings = resources.settings
    if settings.metabase_admin_password is None:
        print(
            "metabase-setup: set METABASE_ADMIN_PASSWORD (and METABASE_ADMIN_EMAIL)",
            file=sys.stderr,
        )
        return 2
    admin = MetabaseAdmin(
        settings.metabase_admin_email, settings.metabase_admin_password.get_secret_value()
    )
    try:
        async with httpx.AsyncClient(base_url=args.url, timeout=30) as client:
            report = await provision(client, admin, warehouse(settings), DASHBOARD)
    except (MetabaseError, httpx.HTTPError) as error:
        print(f"metabase-setup failed: {error}", file=sys.stderr)
        return 1
    for kind in report.created:
        made, there = report.created[kind], report.found[kind]
        print(f"{kind}: {len(made)} created, {len(there)} already there")
    print(
        f"dashboard {DASHBOARD.dashboard!r}: {args.url.rstrip('/')}/dashboard/{report.dashboard_id}"
    )
    return 0
