"""Kafka's disk fills up: no 202 without storage, and nothing acknowledged is lost once space
returns. The broker is a test's own, its data on a small tmpfs."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from pathlib import Path

import httpx
import orjson
import pytest

from app.topics import USER_TOPICS
from tests.event_factory import mixed_events
from tests.scratch_kafka import ScratchKafka, read_event_ids
from tests.support import ServiceProcess

TMPFS_MB = 64
JSON = {"content-type": "application/json"}
LEFT_FREE_KB = 1024


@pytest.fixture
def disk(tmp_path: Path):
    """A small tmpfs, unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m", "tmpfs", str(mount_point)],
                   check=True)  # fmt: skip
    yield mount_point
    subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


def fill(disk: Path) -> Path:
    """A file that leaves about LEFT_FREE_KB of the disk free."""
    usage = os.statvfs(disk)
    free_kb = usage.f_bavail * usage.f_frsize // 1024
    filler = disk / "filler"
    with filler.open("wb") as file:
        os.posix_fallocate(file.fileno(), 0, max(0, free_kb - LEFT_FREE_KB) * 1024)
    return filler


async def test_no_202_without_storage_and_nothing_acknowledged_lost(disk: Path, tmp_path: Path):
    broker = ScratchKafka(tmp_path / "kafka", data_dir=disk / "data")
    broker.prepare()
    await asyncio.to_thread(broker.run)
    service = None
    try:
        await broker.create_user_topics()
        service = ServiceProcess(
            KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers,
            PUBLISH_TIMEOUT_SECONDS="3",
            RUN_CONSUMERS="false",
            RUN_SCHEDULER="false",
        )
        service.start()
        filler = fill(disk)
        user, acknowledged, answers = f"disk-{uuid.uuid4().hex[:8]}", [], []
        async with httpx.AsyncClient(base_url=service.base_url, timeout=20) as client:
            for _ in range(400):
                events = mixed_events(user, 100)
                response = await client.post("/events", content=orjson.dumps(events), headers=JSON)
                answers.append(response.status_code)
                if response.status_code == 202:
                    acknowledged += events
                if answers[-3:] == [503] * 3:
                    break
            assert acknowledged and 503 in answers, answers
            first_refusal = answers.index(503)
            assert set(answers[first_refusal:]) == {503}, answers

            filler.unlink()  # space returns
            if broker.pid() is None:  # a broker whose only log directory failed stops itself
                await asyncio.to_thread(broker.run)
            stored = await read_event_ids(broker.bootstrap_servers, list(USER_TOPICS.values()))
            acknowledged_ids = [event["event_id"] for event in acknowledged]
            assert set(acknowledged_ids) <= set(stored)
            assert len(stored) == len(set(stored))
    finally:
        if service is not None:
            service.stop()
        broker.stop()
