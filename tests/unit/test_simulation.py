import random
import statistics
from collections import Counter
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import pytest

from app.ingest.events import EventLimits, validate_event
from app.simulation.traffic import DEFAULT_MOVIE_IDS, TrafficModel, generate_events
from jobs.rules import load_rules

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def simulated(seed: int, count: int, model: TrafficModel | None = None) -> list[dict[str, Any]]:
    return list(islice(generate_events(random.Random(seed), lambda: NOW, model), count))


@pytest.mark.parametrize("seed", [0, 1, 42, 2026])
def test_every_event_is_accepted_by_the_ingest_validation(seed):
    limits = EventLimits.from_rules(load_rules())
    for event in simulated(seed, 3000):
        validate_event(event, NOW, "simulator", limits)  # raises on any refusal


def test_events_never_lie_in_the_future():
    assert all(datetime.fromisoformat(e["occurred_at"]) <= NOW for e in simulated(3, 3000))


def test_all_three_event_types_and_several_events_per_session():
    events = simulated(5, 5000)
    assert set(Counter(e["event_type"] for e in events)) == {"watch", "click", "comment"}
    per_session = Counter(e["session_id"] for e in events)
    assert statistics.mean(per_session.values()) > 3


def test_movie_popularity_is_skewed_towards_a_few_titles():
    counts = Counter(e["movie_id"] for e in simulated(7, 20_000))
    per_movie = [counts[movie_id] for movie_id in DEFAULT_MOVIE_IDS]
    assert max(per_movie) > 10 * statistics.median(per_movie)


def test_movie_ids_come_from_the_model():
    model = TrafficModel(movie_ids=(11, 12, 13))
    assert {e["movie_id"] for e in simulated(8, 2000, model)} == {11, 12, 13}


def test_watch_positions_stay_within_the_duration():
    watches = [e["payload"] for e in simulated(9, 20_000) if e["event_type"] == "watch"]
    assert {w["action"] for w in watches} == {"start", "progress", "pause", "complete"}
    assert all(0 <= w["position_seconds"] <= w["duration_seconds"] for w in watches)
    assert all(
        w["position_seconds"] == w["duration_seconds"] for w in watches if w["action"] == "complete"
    )


def test_comment_ratings_are_half_points_between_0_and_10():
    comments = [e["payload"] for e in simulated(10, 20_000) if e["event_type"] == "comment"]
    ratings = [c["rating"] for c in comments if "rating" in c]
    assert ratings and len(ratings) < len(comments)  # optional, so some have none
    assert all(0 <= r <= 10 and (r * 2).is_integer() for r in ratings)
    assert any(c["text"].startswith("Not bad at all") for c in comments)  # negations too


def test_the_same_seed_gives_the_same_events():
    assert simulated(11, 2000) == simulated(11, 2000)
    assert simulated(11, 200) != simulated(12, 200)
