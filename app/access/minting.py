"""Tokens the local stack's identity stands in for: HS256, signed with AUTH_HS256_SECRET, with
the issuer, audience and user claim the service checks. Production tokens come from the app's
identity provider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from app.access.credentials import TokenRules


def mint_user_token(
    secret: str, rules: TokenRules, user_id: str, lifetime: timedelta, now: datetime | None = None
) -> str:
    issued = now or datetime.now(UTC)
    claims = {
        "iss": rules.issuer,
        "aud": rules.audience,
        rules.user_claim: user_id,
        "iat": issued,
        "exp": issued + lifetime,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
