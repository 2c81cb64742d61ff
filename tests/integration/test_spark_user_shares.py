"""The Spark stream reads its batch's users' facts in shares, a task each: every user falls in
exactly one share, whatever its id."""

from __future__ import annotations

from jobs.spark.batch_store import user_shares


async def test_each_user_falls_in_exactly_one_share(pg) -> None:
    users = [f"user-{n}" for n in range(300)] + ["", "ü-ñ", "x" * 200]
    shares = []
    for condition in user_shares(3):
        rows = await pg.fetch(
            f"SELECT user_id FROM unnest($1::text[]) AS users (user_id) WHERE {condition}", users
        )
        shares.append([row["user_id"] for row in rows])
    assert sorted(user for share in shares for user in share) == sorted(users)
    assert all(len(share) > 50 for share in shares)  # the shares are of similar size
