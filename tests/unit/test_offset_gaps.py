"""A batch that starts past the offset expected next is a gap retention left."""

from __future__ import annotations

from types import SimpleNamespace

from aiokafka import TopicPartition

from app.consumers.offset_gaps import OffsetGap, gaps_between

TP0, TP1, TP2 = (TopicPartition("user_click_log", n) for n in range(3))


def records(*offsets: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(offset=offset) for offset in offsets]


def test_a_jump_past_the_expected_offset_is_a_gap_and_a_contiguous_batch_is_not():
    expected = {TP0: 3, TP1: 10}
    batches = {TP0: records(6, 7), TP1: records(10, 11), TP2: records(0, 1)}
    assert gaps_between("g", expected, batches) == [OffsetGap("g", "user_click_log", 0, 3, 6)]
    assert gaps_between("g", expected, batches)[0].messages == 3


def test_a_partition_with_nothing_expected_yet_has_no_gap():
    assert gaps_between("g", {}, {TP0: records(50)}) == []
