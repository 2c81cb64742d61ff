"""A Spark stream whose batch fails is restarted from its checkpoint, not left stopped."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile

import orjson
from aiokafka import AIOKafkaProducer

from tests.e2e.model_support import job_command, job_env, starting_offsets_now
from tests.event_factory import new_event
from tests.support import REPO_ROOT

NOW = "2026-12-01T00:00:00+00:00"


async def test_a_failing_stream_is_restarted(settings, tmp_path):
    offsets = await starting_offsets_now(settings)
    env = job_env(
        SPARK_CHECKPOINT_DIR=str(tmp_path / "checkpoint"),
        SPARK_STARTING_OFFSETS=offsets,
        SPARK_TRIGGER_SECONDS="1",
        # Spark's batches cannot reach PostgreSQL: every batch fails.
        DATABASE_URL="postgresql://movies@127.0.0.1:9/movies",
    )
    with tempfile.TemporaryFile() as log:
        stream = await asyncio.create_subprocess_exec(
            *job_command("spark"), cwd=REPO_ROOT, env=env, stderr=log, stdout=subprocess.DEVNULL
        )
        try:
            producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
            await producer.start()
            try:
                event = {
                    **new_event("click", "supervised"),
                    "received_at": "2026-12-01T00:00:00+00:00",
                }
                await producer.send_and_wait("user_click_log", orjson.dumps(event), key=b"s")
            finally:
                await producer.stop()
            async with asyncio.timeout(120):
                while True:
                    log.seek(0)
                    restarts = log.read().count(b"the Spark stream failed; restarting")
                    assert stream.returncode is None, "the stream exited instead of restarting"
                    if restarts >= 2:
                        break
                    await asyncio.sleep(1)
        finally:
            stream.kill()
            await stream.wait()


async def test_sigterm_stops_the_spark_command(settings, tmp_path):
    env = job_env(
        SPARK_CHECKPOINT_DIR=str(tmp_path / "checkpoint"),
        SPARK_STARTING_OFFSETS=await starting_offsets_now(settings),
    )
    stream = await asyncio.create_subprocess_exec(
        *job_command("spark"), cwd=REPO_ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with asyncio.timeout(60):  # until the stream has written its checkpoint
            while not (tmp_path / "checkpoint" / "metadata").is_file():
                assert stream.returncode is None
                await asyncio.sleep(0.5)
        stream.terminate()
        async with asyncio.timeout(15):
            await stream.wait()
    finally:
        if stream.returncode is None:
            stream.kill()
            await stream.wait()
