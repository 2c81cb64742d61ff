"""Every accepted event lands exactly once in raw.user_logs and stg_user_logs; none invalid does."""

from __future__ import annotations

import gzip
import uuid

import httpx
import orjson

from tests.e2e.stores import count_landed, wait_until_landed
from tests.event_factory import new_event


def requests_in_every_shape(
    user: str,
) -> list[tuple[dict[str, str], bytes, list[dict], list[dict]]]:
    """(headers, body, valid events, invalid events) for each shape the endpoint accepts."""
    invalid_watch = new_event("watch", user, movie_id=None)  # watch needs a movie
    invalid_comment = new_event("comment", user, payload={"text": "", "rating": 11})
    shapes = []
    single = new_event("click", user)
    shapes.append(({"content-type": "application/json"}, orjson.dumps(single), [single], []))
    array = [new_event("watch", user), invalid_watch, new_event("comment", user)]
    shapes.append(
        (
            {"content-type": "application/json"},
            orjson.dumps(array),
            [array[0], array[2]],
            [array[1]],
        )
    )
    wrapped = [new_event("comment", user), invalid_comment]
    shapes.append(
        (
            {"content-type": "application/json"},
            orjson.dumps({"events": wrapped}),
            [wrapped[0]],
            [wrapped[1]],
        )
    )
    beacon = [new_event("watch", user), new_event("click", user)]
    shapes.append(({"content-type": "text/plain;charset=UTF-8"}, orjson.dumps(beacon), beacon, []))
    zipped = [new_event("comment", user), new_event("click", user)]
    shapes.append(
        (
            {"content-type": "application/json", "content-encoding": "gzip"},
            gzip.compress(orjson.dumps(zipped)),
            zipped,
            [],
        )
    )
    return shapes


async def test_valid_events_land_once_and_invalid_ones_nowhere(service, settings):
    user = f"user-{uuid.uuid4().hex[:8]}"
    shapes = requests_in_every_shape(user)
    valid = [event for _, _, good, _ in shapes for event in good]
    invalid = [event for _, _, _, bad in shapes for event in bad]

    async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as client:
        for _ in range(2):  # the second round resends the very same events
            for headers, body, good, bad in shapes:
                response = await client.post("/events", content=body, headers=headers)
                assert response.status_code == 202, response.text
                answer = response.json()
                assert [a["event_id"] for a in answer["accepted"]] == [e["event_id"] for e in good]
                assert len(answer["rejected"]) == len(bad)
                assert all(r["field"] and r["reason"] for r in answer["rejected"])

    comments = sum(1 for event in valid if event["event_type"] == "comment")
    landed = await wait_until_landed(settings, [e["event_id"] for e in valid], comments)
    assert landed.mongo == len(valid)
    assert landed.staged == landed.staged_distinct == len(valid)
    assert landed.comments == comments

    nowhere = await count_landed(settings, [e["event_id"] for e in invalid])
    assert (nowhere.mongo, nowhere.staged, nowhere.comments) == (0, 0, 0)

    async with httpx.AsyncClient(base_url=service.ops_url) as client:
        metrics = parse_metrics((await client.get("/metrics")).text)
    accepted = sum(v for k, v in metrics.items() if k.startswith("events_accepted_total{"))
    rejected = sum(v for k, v in metrics.items() if k.startswith("events_rejected_total{"))
    assert (accepted, rejected) == (2 * len(valid), 2 * len(invalid))
    assert metrics["publish_latency_seconds_count"] == 2 * len(shapes)
    assert any(k.startswith("consumer_lag_messages{") for k in metrics)
    assert metrics['rows_written_total{sink="postgres_staging"}'] >= len(valid)


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text exposition as {name{labels}: value}, comments left out."""
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples
