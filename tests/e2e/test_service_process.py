"""`python -m app` as operators run it: a real uvicorn process on a free port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx

from tests.support import REPO_ROOT, ServiceProcess


def test_service_starts_answers_and_stops_on_sigterm():
    service = ServiceProcess()
    service.start()
    try:
        ready = httpx.get(f"{service.ops_url}/ready", timeout=10)
        assert ready.status_code == 200
        assert set(ready.json()["dependencies"]) == {"kafka", "mongo", "postgres"}
    finally:
        stderr = service.stop(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells why.
    assert service.process.returncode in (0, -signal.SIGTERM), stderr
    assert "Application shutdown complete" in stderr


def test_make_env_prints_settings_with_secrets_masked():
    result = subprocess.run(
        [sys.executable, "-m", "app.config"],
        cwd=REPO_ROOT,
        env={**os.environ, "TMDB_API_TOKEN": "token-that-must-not-show", "API_PORT": "8123"},
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert "API_PORT=8123" in lines
    assert "# TMDB_API_TOKEN='********'  (masked)" in lines  # eval leaves the real one alone
    assert "token-that-must-not-show" not in result.stdout
