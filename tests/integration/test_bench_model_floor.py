"""The model bench's PostgreSQL floor: it inserts exactly the users' facts once more, through
the real indexes and rollup trigger, and leaves the facts and the rollups as they were."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from bench.model_floor import time_fact_insert
from jobs.model_store import fact_rows, insert_fact_rows
from jobs.pandas.events_frame import events_frame
from jobs.pandas.transforms import build_facts
from jobs.rules import load_rules
from tests.event_factory import new_event

ROLLUP = "SELECT events, comments FROM rollup_day WHERE day = $1"


async def test_the_floor_inserts_the_users_facts_and_rolls_back(pg, unique):
    moment = datetime(2002, 1, 1, tzinfo=UTC) + timedelta(
        seconds=random.Random(unique).randrange(365 * 86_400)
    )
    users = [f"floor-{unique}-{n}" for n in range(3)]
    events = [
        {**new_event(kind, user, occurred_at=(moment + timedelta(seconds=i)).isoformat()),
         "received_at": moment + timedelta(seconds=i)}
        for i, (kind, user) in enumerate(
            (kind, user) for user in users for kind in ("watch", "click", "comment")
        )
    ]  # fmt: skip
    facts = build_facts(events_frame(events), load_rules())
    assert await insert_fact_rows(pg, fact_rows(facts, "spark"), "fact_user_event") == 9
    before = dict(await pg.fetchrow(ROLLUP, moment.date()))

    inserted, seconds = await time_fact_insert(pg, set(users[:2]))

    assert inserted == 6 and seconds > 0  # the two users' facts, through the real insert
    counted = await pg.fetchval(
        "SELECT count(*) FROM fact_user_event WHERE user_id = ANY($1::text[])", users
    )
    assert counted == 9
    assert dict(await pg.fetchrow(ROLLUP, moment.date())) == before
    assert not pg.is_in_transaction()
