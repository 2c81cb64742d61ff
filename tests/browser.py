"""A headless Chromium, driven through ChromeDriver's W3C WebDriver HTTP API with httpx."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from tests.support import free_port

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--window-size=1280,1400",  # the whole pipeline page in one screenshot
    # Chromium's own traffic (updates, sync, field trials) has no place in a test, and a closed
    # network refuses it.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"  # how W3C WebDriver marks an element
TIMEOUT_MS = 15_000  # page loads and async scripts


class WebDriverError(RuntimeError):
    pass


class Browser:
    """`with Browser() as browser:` one session in a fresh profile, all of it gone afterwards."""

    def __init__(self) -> None:
        self._port = free_port()
        self._profile = tempfile.mkdtemp(prefix="chromium-profile-")
        self._http = httpx.Client(base_url=f"http://127.0.0.1:{self._port}", timeout=30)
        self._driver: subprocess.Popen[bytes] | None = None
        self._session = ""

    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _start(self) -> None:
        # Its own process group, so that closing it also ends any Chromium it left behind.
        self._driver = subprocess.Popen(
            [CHROMEDRIVER, f"--port={self._port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while not self._driver_ready():
            if self._driver.poll() is not None or time.monotonic() > deadline:
                raise WebDriverError("chromedriver did not start")
            time.sleep(0.05)
        options = {"binary": CHROMIUM, "args": [*CHROMIUM_ARGS, f"--user-data-dir={self._profile}"]}
        capabilities = {"browserName": "chrome", "goog:chromeOptions": options}
        created = self._call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
        self._session = created["sessionId"]
        self._command("POST", "timeouts", {"pageLoad": TIMEOUT_MS, "script": TIMEOUT_MS})

    def _driver_ready(self) -> bool:
        try:
            return bool(self._http.get("/status").json()["value"]["ready"])
        except (httpx.TransportError, ValueError, KeyError):  # not up yet, or not ChromeDriver
            return False

    def close(self) -> None:
        try:
            if self._session:
                # The driver is ended below whatever it answers.
                with contextlib.suppress(Exception):
                    self._call("DELETE", f"/session/{self._session}")
                self._session = ""
        finally:
            if self._driver is not None:
                self._end_driver(self._driver)
                self._driver = None
            self._http.close()
            shutil.rmtree(self._profile, ignore_errors=True)

    @staticmethod
    def _end_driver(driver: subprocess.Popen[bytes]) -> None:
        """ChromeDriver and the Chromium it started share a process group: end them all."""
        for signum in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(driver.pid, signum)
            try:
                driver.wait(timeout=10)
                return
            except subprocess.TimeoutExpired:
                continue

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=body)
        value = response.json()["value"]
        if response.status_code != 200:
            raise WebDriverError(f"{value.get('error')}: {value.get('message')}")
        return value

    def _command(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call(method, f"/session/{self._session}/{path}", body)

    def navigate(self, url: str) -> None:
        self._command("POST", "url", {"url": url})

    def execute(self, script: str, *args: Any) -> Any:
        """Runs `script` as a function body (`arguments` holds args); returns what it returns."""
        return self._command("POST", "execute/sync", {"script": script, "args": list(args)})

    def execute_async(self, script: str, *args: Any) -> Any:
        """Like execute, but the result is what the script passes to its last argument."""
        return self._command("POST", "execute/async", {"script": script, "args": list(args)})

    def wait_until(self, script: str, *args: Any, timeout: float = 15) -> Any:
        """Runs `script` until it returns something truthy, which it returns."""
        deadline = time.monotonic() + timeout
        while not (result := self.execute(script, *args)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"still falsy after {timeout:g}s: {script}")
            time.sleep(0.1)
        return result

    def find(self, css: str) -> str:
        """The id of the first element matching a CSS selector."""
        found = self._command("POST", "element", {"using": "css selector", "value": css})
        return found[ELEMENT_KEY]

    def click(self, element: str) -> None:
        self._command("POST", f"element/{element}/click", {})

    def type_text(self, element: str, text: str) -> None:
        self._command("POST", f"element/{element}/value", {"text": text})

    def text(self, element: str) -> str:
        return self._command("GET", f"element/{element}/text")

    def screenshot(self, path: Path) -> Path:
        """Saves the viewport as a PNG at `path`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self._command("GET", "screenshot")))
        return path
