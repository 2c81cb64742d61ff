"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import ServiceProcess


@pytest.fixture(scope="module")
def service() -> Iterator[ServiceProcess]:
    """`python -m app` with its consumers, shared by a module's tests."""
    process = ServiceProcess()
    process.start()
    yield process
    process.stop()
