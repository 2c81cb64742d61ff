"""`python -m app` as operators run it: a real uvicorn process on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from tests.support import REPO_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_health(base_url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("the service did not come up within 30s")


def test_service_starts_answers_and_stops_on_sigterm():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app"],
        cwd=REPO_ROOT,
        env={**os.environ, "API_PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base_url, process)
        ready = httpx.get(f"{base_url}/ready", timeout=10)
        assert ready.status_code == 200
        assert set(ready.json()["dependencies"]) == {"kafka", "mongo", "postgres"}
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells why.
    assert process.returncode in (0, -signal.SIGTERM), stderr
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
    assert "TMDB_API_TOKEN=********" in lines
    assert "token-that-must-not-show" not in result.stdout
