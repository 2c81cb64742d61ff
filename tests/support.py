"""Helpers shared by the integration and e2e tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from app.config import Settings
from app.main import create_app

REPO_ROOT = Path(__file__).resolve().parent.parent


async def get_ready(settings: Settings) -> httpx.Response:
    """`GET /ready` on an application built from these settings, in process."""
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/ready")


def dependency_states(response: httpx.Response) -> dict[str, str]:
    return {name: dep["state"] for name, dep in response.json()["dependencies"].items()}


def run_devstack(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )
