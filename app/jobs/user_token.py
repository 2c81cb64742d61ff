"""Mint a bearer token for a user, signed with AUTH_HS256_SECRET (the local stack's, say), to
call the per-user API: `curl -H "Authorization: Bearer $(python -m app.jobs user-token u-42)"`."""

from __future__ import annotations

import argparse
from datetime import timedelta

from app.access.minting import mint_user_token
from app.bootstrap import Resources, token_rules


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("user_id")
    parser.add_argument("--minutes", type=float, default=60.0, help="lifetime (default 60)")


async def run(args: argparse.Namespace, resources: Resources) -> int:
    settings = resources.settings
    secret = settings.secret("auth_hs256_secret")
    lifetime = timedelta(minutes=args.minutes)
    print(mint_user_token(secret, token_rules(settings), args.user_id, lifetime))
    return 0
