"""The chaos run's pure parts: the order of its faults and the log of the service's answers."""

from __future__ import annotations

import random
from collections import Counter

from app.simulation.answer_log import TRANSPORT_ERROR, AnswerLog, read_answers
from bench.chaos.faults import plan_faults
from bench.chaos.poison import poison_record
from bench.chaos.run import TARGETS


def test_every_target_is_hit_once_a_round_in_a_seeded_order():
    faults = plan_faults(random.Random(7), TARGETS, count=4 * len(TARGETS))
    rounds = [faults[n : n + len(TARGETS)] for n in range(0, len(faults), len(TARGETS))]
    assert all(Counter(f.target for f in r) == Counter(TARGETS) for r in rounds)
    assert len({tuple(f.target for f in r) for r in rounds}) > 1  # the order changes
    for target in TARGETS:  # both kinds, by turns
        kinds = [f.kind for f in faults if f.target == target]
        assert kinds[0] != kinds[1] and kinds[::2] == [kinds[0]] * 2
    assert all(2 <= f.hold_seconds <= 8 for f in faults)
    assert plan_faults(random.Random(7), TARGETS, 10) == faults[:10]


def test_only_events_a_202_accepted_count_as_acknowledged(tmp_path):
    log = AnswerLog(tmp_path / "answers.jsonl")
    log.write(202, ["a", "b"], ["a", "b"])
    log.write(503, ["c"], [])
    log.write(TRANSPORT_ERROR, ["d", "e"], [])
    log.close()
    answers = read_answers(tmp_path / "answers.jsonl")
    assert answers.acknowledged == {"a", "b"}
    assert answers.sent == 5
    assert answers.by_answer[503] == {"c"}


def test_poison_comes_in_each_kind_with_keys_of_its_own():
    records = [poison_record("run", n) for n in range(6)]
    assert len({key for _, key, _ in records}) == 6
    assert len({value[:1] for _, _, value in records}) == 3  # not JSON, a list, an object
