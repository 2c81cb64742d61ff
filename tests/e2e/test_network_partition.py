"""A network partition between the service and Kafka, each on a host of the test's own
network: ingest answers 503 within the publish timeout, never 202 and never hangs, and it
recovers when the partition heals, with nothing acknowledged lost."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import orjson
import pytest

from app.topics import USER_TOPICS
from tests.event_factory import mixed_events
from tests.netns import HostNetwork
from tests.scratch_kafka import ScratchKafka, read_event_ids
from tests.support import ServiceProcess

PUBLISH_TIMEOUT = 3.0
JSON = {"content-type": "application/json"}


@pytest.fixture
def network():
    with HostNetwork() as network:
        yield network


@pytest.fixture
def kafka(network: HostNetwork, tmp_path):
    address = network.add_host("kafka")
    broker = ScratchKafka(tmp_path / "kafka", address, 9092, network.launcher("kafka"))
    broker.prepare()
    broker.run()
    yield broker
    broker.stop()


async def post(client: httpx.AsyncClient, events: list[dict]) -> tuple[int | str, float]:
    started = time.monotonic()
    try:
        response = await client.post("/events", content=orjson.dumps(events), headers=JSON)
    except httpx.TimeoutException:
        return "hung", time.monotonic() - started
    return response.status_code, time.monotonic() - started


async def test_a_partition_from_kafka_means_503s_in_time_then_recovery(network, kafka):
    await kafka.create_user_topics()
    service_address = network.add_host("service")
    service = ServiceProcess(
        host=service_address,
        launcher=network.launcher("service"),
        KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
        PUBLISH_TIMEOUT_SECONDS=str(PUBLISH_TIMEOUT),
        RUN_CONSUMERS="false",
        RUN_SCHEDULER="false",
    )
    service.start()
    user, acknowledged = f"partition-{uuid.uuid4().hex[:8]}", []
    try:
        async with httpx.AsyncClient(base_url=service.base_url,
                                     timeout=PUBLISH_TIMEOUT + 10) as client:  # fmt: skip
            before = mixed_events(user, 10)
            assert (await post(client, before))[0] == 202
            acknowledged += before

            network.partition("service", "kafka")
            during = await asyncio.gather(*(post(client, mixed_events(user, 10)) for _ in range(8)))
            later = [await post(client, mixed_events(user, 10)) for _ in range(3)]
            network.heal("service")

            answers = [status for status, _ in during + later]
            assert set(answers) == {503}, answers
            slowest = max(seconds for _, seconds in during + later)
            assert slowest < PUBLISH_TIMEOUT + 2, f"a 503 took {slowest:.1f}s"

            deadline = time.monotonic() + 60
            while True:
                after = mixed_events(user, 10)
                status, _ = await post(client, after)
                if status == 202:
                    acknowledged += after
                    break
                assert time.monotonic() < deadline, "ingest did not recover after the partition"
                await asyncio.sleep(1)
    finally:
        service.stop()
    stored = await read_event_ids(kafka.bootstrap_servers, list(USER_TOPICS.values()))
    assert {event["event_id"] for event in acknowledged} <= set(stored)
