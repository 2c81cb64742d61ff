"""The remembering partitioner sends every key where Kafka's default partitioner would."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner

from app.producers.kafka import remembering_partitioner


def test_each_key_goes_to_the_default_partitioners_partition() -> None:
    draw = random.Random(11)
    default = DefaultPartitioner()
    for _ in range(2_000):
        key = draw.randbytes(draw.randint(1, 40))
        partitions = list(range(draw.randint(1, 64)))
        for _repeat in range(2):  # the second answer comes from the remembered hash
            assert remembering_partitioner(key, partitions, partitions) == default(
                key, partitions, partitions
            )


def test_a_topic_with_more_partitions_gets_the_keys_new_partition() -> None:
    key = b"user-42"
    assert remembering_partitioner(key, [0, 1, 2], [0, 1, 2]) == DefaultPartitioner()(
        key, [0, 1, 2], [0, 1, 2]
    )
    wider = list(range(12))
    assert remembering_partitioner(key, wider, wider) == DefaultPartitioner()(key, wider, wider)
