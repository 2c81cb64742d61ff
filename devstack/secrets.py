"""The local stack's secrets: made once, at random, and kept in its state folder, readable by
this user alone. The service finds them there (app/local_stack.py); nothing has a default in
code."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

SECRETS_FILE = "secrets.env"


def local_backend_tokens() -> str:
    """One service token for the app's backend on this machine, allowed to read users' stats."""
    token = f"svc_{secrets.token_urlsafe(32)}"
    return json.dumps({"local-backend": {"token": token, "scopes": ["users:read"]}})


def local_write_keys() -> str:
    """One Segment write key, for a tracking SDK pointed at this machine."""
    return json.dumps({"local-web": f"wk_{secrets.token_urlsafe(24)}"})


# Each setting and how to make its value; a setting added later is appended to an older file.
GENERATED: dict[str, Callable[[], str]] = {
    "ANALYTICS_PASSWORD": lambda: secrets.token_urlsafe(24),
    "AUTH_HS256_SECRET": lambda: secrets.token_urlsafe(48),
    "SERVICE_TOKENS": local_backend_tokens,
    "SEGMENT_WRITE_KEYS": local_write_keys,
}


def ensure_secrets(state: Path) -> list[str]:
    """The settings this call generated (none when all were there)."""
    state.mkdir(parents=True, exist_ok=True)
    path = state / SECRETS_FILE
    present = set()
    if path.exists():
        present = {line.split("=", 1)[0] for line in path.read_text().splitlines() if "=" in line}
    missing = [name for name in GENERATED if name not in present]
    if not missing:
        return []
    # Created readable by this user only, before a byte is written.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a") as file:
        for name in missing:
            file.write(f"{name}='{GENERATED[name]()}'\n")
    path.chmod(0o600)
    return missing
