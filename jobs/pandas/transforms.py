"""The rules as pure pandas code: stored events in, fact rows and sessions out. No I/O.

Input frame: event_id, event_type, user_id, session_id, movie_id, occurred_at, received_at (UTC
timestamps), context and payload (dicts). The meaning of each rule is in jobs/rules.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from jobs.model_columns import FACT_COLUMNS, SESSION_COLUMNS
from jobs.rules import Rules
from jobs.sentiment import read_comment


def build_facts(events: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    facts = pd.DataFrame(
        {
            "event_id": events["event_id"].astype(str),
            "event_type": normalised_types(events["event_type"], rules),
            "user_id": events["user_id"],
            "client_session_id": events["session_id"],
            "movie_id": events["movie_id"].astype("Int64"),
            "occurred_at": events["occurred_at"],
            "received_at": events["received_at"],
        },
        index=events.index,
    )
    documents = {parent: events[parent].tolist() for parent, _ in rules.fields.values()}
    for column, (parent, key) in rules.fields.items():
        facts[column] = pd.Series(field_values(documents[parent], key), index=events.index)
    for column in ("position_seconds", "duration_seconds", "rating"):
        facts[column] = pd.to_numeric(facts[column]).astype("Float64")
    facts["event_date"] = facts["occurred_at"].dt.date
    facts["event_hour"] = facts["occurred_at"].dt.hour.astype("Int64")
    add_watch_fields(facts, rules)
    facts["rating_bucket"] = rating_buckets(facts["rating"], rules)
    add_comment_reading(facts, rules)
    facts["invalid_reason"] = invalid_reasons(facts, rules)
    facts["is_valid"] = facts["invalid_reason"].isna()
    facts["rules_version"] = rules.version
    return facts.loc[:, list(FACT_COLUMNS)].reset_index(drop=True)


def field_values(documents: list[Any], key: str) -> list[Any]:
    return [document.get(key) if document else None for document in documents]


def normalised_types(types: pd.Series, rules: Rules) -> pd.Series:
    """Each distinct name is cleaned once: there are few of them."""
    codes, names = pd.factorize(types.astype(str))
    cleaned = pd.Index(names).str.strip().str.lower()
    normalised = np.array([rules.aliases.get(name, name) for name in cleaned], dtype=object)
    return pd.Series(normalised[codes], index=types.index)


def add_watch_fields(facts: pd.DataFrame, rules: Rules) -> None:
    is_watch = facts["event_type"].eq("watch")
    position, duration = facts["position_seconds"], facts["duration_seconds"]
    has_duration = duration.gt(0).fillna(False)
    ratio = (position / duration.where(has_duration)).clip(0, 1)
    facts["completion_ratio"] = ratio.where(is_watch)
    completed = facts["watch_action"].eq("complete").fillna(False) | ratio.ge(
        rules.completion_threshold
    ).fillna(False)
    facts["is_completed"] = (completed & is_watch).astype(bool)
    clamped = position.clip(lower=0).where(
        ~has_duration, np.minimum(position.clip(lower=0), duration)
    )
    started = facts["watch_action"].eq("start").fillna(False)
    facts["watch_seconds"] = clamped.where(~started, 0.0).where(is_watch)


def rating_buckets(ratings: pd.Series, rules: Rules) -> pd.Series:
    """The first bucket holding each rating; the last one also holds its max."""
    rating = ratings.to_numpy(dtype=float, na_value=np.nan)
    last = rules.rating_buckets[-1]
    held = [
        ((bucket.min <= rating) & (rating < bucket.max)) | ((bucket is last) & (rating == last.max))
        for bucket in rules.rating_buckets
    ]
    names = [bucket.name for bucket in rules.rating_buckets]
    return pd.Series(np.select(held, names, default=None), index=ratings.index, dtype=object)


def add_comment_reading(facts: pd.DataFrame, rules: Rules) -> None:
    """Each distinct text is read once: comments repeat."""
    texts = facts["comment_text"]
    readings = {text: read_comment(text, rules.sentiment) for text in texts.dropna().unique()}
    facts["emotion"] = texts.map({text: r.label for text, r in readings.items()})
    facts["emotion_score"] = texts.map({text: r.score for text, r in readings.items()}).astype(
        "Float64"
    )
    facts["primary_emotion"] = texts.map({text: r.primary_emotion for text, r in readings.items()})


def invalid_reasons(facts: pd.DataFrame, rules: Rules) -> pd.Series:
    skew = pd.Timedelta(seconds=rules.max_future_skew_seconds)
    max_age = pd.Timedelta(days=rules.max_age_days)
    checks = [  # in the order rules.py defines
        ("synthetic", facts["user_id"].isin(rules.synthetic_users)),
        ("unknown_event_type", ~facts["event_type"].isin(rules.canonical_types)),
        (
            "missing_movie",
            facts["event_type"].isin(rules.require_movie_for) & facts["movie_id"].isna(),
        ),
        ("future_timestamp", facts["occurred_at"] > facts["received_at"] + skew),
        ("stale_timestamp", facts["occurred_at"] < facts["received_at"] - max_age),
        (
            "rating_out_of_range",
            (facts["rating"].lt(rules.rating_min) | facts["rating"].gt(rules.rating_max)).fillna(
                False
            ),
        ),
        (
            "position_beyond_duration",
            facts["position_seconds"]
            .gt(facts["duration_seconds"] + rules.position_tolerance_seconds)
            .fillna(False),
        ),
    ]
    reasons = pd.Series(None, index=facts.index, dtype="object")
    for reason, failed in reversed(checks):  # the first check in order wins
        reasons = reasons.mask(failed.astype(bool), reason)
    return reasons


def build_sessions(facts: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    valid = facts.loc[facts["is_valid"]].sort_values(["user_id", "occurred_at", "event_id"])
    if valid.empty:
        return pd.DataFrame(columns=list(SESSION_COLUMNS))
    gap = pd.Timedelta(seconds=rules.inactivity_gap_seconds)
    previous = valid.groupby("user_id")["occurred_at"].shift()
    run_number = (previous.isna() | (valid["occurred_at"] - previous > gap)).cumsum()
    run_start = valid.groupby(run_number)["occurred_at"].transform("min")
    piece = (valid["occurred_at"] - run_start) // pd.Timedelta(seconds=rules.max_session_seconds)
    session_start = valid.groupby([run_number, piece])["occurred_at"].transform("min")
    start_ms = (session_start - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    kinds = valid["event_type"]
    valid = valid.assign(
        session_id=valid["user_id"] + ":" + start_ms.astype(str),
        watches=kinds.eq("watch").astype("int64"),
        clicks=kinds.eq("click").astype("int64"),
        comments=kinds.eq("comment").astype("int64"),
    )
    valid["watch_ms"] = np.floor(valid["watch_seconds"].astype(float) * 1000)
    per_movie = valid.loc[valid["event_type"].eq("watch") & valid["watch_ms"].notna()]
    watched = per_movie.groupby(["session_id", "movie_id"])["watch_ms"].agg(["max", "min"])
    watch_ms = (watched["max"] - watched["min"]).groupby(level="session_id").sum()
    grouped = valid.groupby("session_id")
    sessions = pd.DataFrame(
        {
            "user_id": grouped["user_id"].first(),
            "session_start": grouped["occurred_at"].min(),
            "session_end": grouped["occurred_at"].max(),
            "event_count": grouped.size(),
            "watch_count": grouped["watches"].sum(),
            "click_count": grouped["clicks"].sum(),
            "comment_count": grouped["comments"].sum(),
            "movies_watched": per_movie.groupby("session_id")["movie_id"].nunique(),
        }
    )
    sessions["movies_watched"] = sessions["movies_watched"].fillna(0).astype("int64")
    sessions["watch_seconds"] = watch_ms.reindex(sessions.index).fillna(0) / 1000.0
    sessions["duration_seconds"] = (
        sessions["session_end"] - sessions["session_start"]
    ).dt.total_seconds()
    sessions["rules_version"] = rules.version
    return sessions.reset_index().loc[:, list(SESSION_COLUMNS)]
