"""Load and check transform_rules.json: one meaning of the business rules for Spark and pandas.

Definitions both engines follow (the parity test holds them to it):
- event_type: trimmed, lower-cased, then mapped through `aliases`; anything not canonical is
  kept as written and the event is invalid (`unknown_event_type`).
- validity: the first failing check, in this order, names `invalid_reason`: synthetic (a user
  of `synthetic_users`: the audit's canary, kept as a fact but counted nowhere), unknown_event_type,
  missing_movie, future_timestamp (occurred_at > received_at + skew), stale_timestamp
  (occurred_at < received_at - max_age), rating_out_of_range, position_beyond_duration
  (position > duration + tolerance). Invalid events stay in the facts, flagged.
- completion_ratio: position / duration clamped to [0, 1], null without a positive duration;
  is_completed: action 'complete' or ratio >= completion_threshold (false for non-watch events).
- watch_seconds: for watch events, position clamped to [0, duration] (to position without a
  duration); 0 for 'start'; null for other types.
- rating_bucket: the bucket with min <= rating < max; the last bucket includes its max.
- emotion, emotion_score, primary_emotion: how the comment text reads (jobs/sentiment.py, with
  the `emotions` section and its lexicons); null without text.
- sessions: per user, events ordered by (occurred_at, event_id). A new activity run starts when
  the gap to the previous event exceeds inactivity_gap_seconds. A run is cut into sessions of
  max_session_seconds counted from the run's first event. session_id = user_id + ':' + the
  session's first occurred_at as Unix milliseconds. Only valid events make sessions.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from jobs.sentiment_rules import SentimentRules, SentimentRulesError, parse_sentiment

SENT_AT_MARGIN = timedelta(hours=1)
DEFAULT_RULES_PATH = Path(__file__).resolve().parent / "transform_rules.json"
FACT_FIELDS = {
    "watch_action", "position_seconds", "duration_seconds", "click_element", "click_target",
    "comment_text", "rating", "page", "device", "locale",
}  # fmt: skip


class RulesError(ValueError):
    """The rules file is missing, malformed or inconsistent; the message says where."""


@dataclass(frozen=True)
class RatingBucket:
    name: str
    min: float
    max: float


@dataclass(frozen=True)
class Rules:
    version: str  # stamped on every model row: the file's version and content digest
    canonical_types: tuple[str, ...]
    aliases: dict[str, str]
    fields: dict[str, tuple[str, str]]  # fact column -> (payload|context, key)
    synthetic_users: tuple[str, ...]
    require_movie_for: tuple[str, ...]
    max_future_skew_seconds: int
    max_age_days: int
    rating_min: float
    rating_max: float
    position_tolerance_seconds: float
    completion_threshold: float
    rating_buckets: tuple[RatingBucket, ...]
    sentiment: SentimentRules
    inactivity_gap_seconds: int
    max_session_seconds: int

    @property
    def resend_window(self) -> timedelta:
        """How long after an event's first receipt a copy of it can still be accepted: ingest
        refuses an event older than max_age_days, and the first copy was received at most the
        future skew before the event's time."""
        return timedelta(days=self.max_age_days, seconds=self.max_future_skew_seconds)

    @property
    def copy_lead(self) -> timedelta:
        """How long before an event's time a copy of it can have been received: ingest refuses
        an event further ahead of its receipt than the future skew. An hour more for the
        Segment routes, where each request's own sentAt corrects the event's time."""
        return timedelta(seconds=self.max_future_skew_seconds) + SENT_AT_MARGIN


def load_rules(path: Path = DEFAULT_RULES_PATH) -> Rules:
    try:
        raw_bytes = path.read_bytes()
        document = json.loads(raw_bytes)
    except (OSError, ValueError) as error:
        raise RulesError(f"{path}: cannot read the rules: {error}") from None
    try:
        return parse_rules(document, raw_bytes, folder=path.parent)
    except (RulesError, SentimentRulesError) as error:
        raise RulesError(f"{path}: {error}") from None


def parse_rules(document: Any, raw_bytes: bytes, folder: Path) -> Rules:
    """The rules of a parsed file; `raw_bytes` (the file as read) and the lexicons it names
    make the digest."""
    doc = _section(document, "(root)")
    types, validity = _section(doc, "event_types"), _section(doc, "validity")
    derived, emotions = _section(doc, "derived"), _section(doc, "emotions")
    sessions = _section(doc, "sessions")
    sentiment, lexicon_bytes = parse_sentiment(emotions, folder)
    digest = hashlib.sha256(raw_bytes + lexicon_bytes).hexdigest()[:12]
    canonical = tuple(_strings(types, "canonical"))
    aliases = _section(types, "aliases")
    if bad := {a: t for a, t in aliases.items() if t not in canonical}:
        raise RulesError(f"event_types.aliases map to unknown types: {bad}")
    rules = Rules(
        version=f"{_number(doc, 'version', int)}:{digest}",
        canonical_types=canonical,
        aliases={str(alias).strip().lower(): target for alias, target in aliases.items()},
        fields=_fields(_section(doc, "fields")),
        synthetic_users=tuple(_strings(validity, "synthetic_users")),
        require_movie_for=tuple(_strings(validity, "require_movie_for")),
        max_future_skew_seconds=_number(validity, "max_future_skew_seconds", int),
        max_age_days=_number(validity, "max_age_days", int),
        rating_min=_number(validity, "rating_min", float),
        rating_max=_number(validity, "rating_max", float),
        position_tolerance_seconds=_number(validity, "position_tolerance_seconds", float),
        completion_threshold=_number(derived, "completion_threshold", float),
        rating_buckets=_buckets(derived),
        sentiment=sentiment,
        inactivity_gap_seconds=_number(sessions, "inactivity_gap_seconds", int),
        max_session_seconds=_number(sessions, "max_session_seconds", int),
    )
    if not 0 < rules.completion_threshold <= 1:
        raise RulesError("derived.completion_threshold must be in (0, 1]")
    if rules.max_session_seconds < rules.inactivity_gap_seconds:
        raise RulesError("sessions.max_session_seconds must not be below the inactivity gap")
    return rules


def _section(document: Any, name: str) -> dict[str, Any]:
    value = document if name == "(root)" else document.get(name)
    if not isinstance(value, dict):
        raise RulesError(f"{name} must be an object")
    return value


def _strings(section: dict[str, Any], key: str) -> list[str]:
    value = section.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RulesError(f"{key} must be a list of strings")
    return value


def _number(section: dict[str, Any], key: str, kind: type[int] | type[float]) -> Any:
    value = section.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise RulesError(f"{key} must be a non-negative number")
    if kind is int and not isinstance(value, int):
        raise RulesError(f"{key} must be a whole number")
    return kind(value)


def _fields(section: dict[str, Any]) -> dict[str, tuple[str, str]]:
    if missing := FACT_FIELDS - set(section):
        raise RulesError(f"fields lacks {sorted(missing)}")
    fields = {}
    for column, source in section.items():
        parent, _, key = str(source).partition(".")
        if parent not in ("payload", "context") or not key or "." in key:
            raise RulesError(f"fields.{column} must be payload.<key> or context.<key>")
        fields[column] = (parent, key)
    return fields


def _buckets(derived: dict[str, Any]) -> tuple[RatingBucket, ...]:
    buckets = derived.get("rating_buckets")
    if not isinstance(buckets, list) or not buckets:
        raise RulesError("derived.rating_buckets must be a non-empty list")
    try:
        parsed = tuple(
            RatingBucket(str(b["name"]), float(b["min"]), float(b["max"]))
            for b in buckets
            if isinstance(b, dict) and {"name", "min", "max"} <= set(b)
        )
    except (TypeError, ValueError):
        raise RulesError("rating bucket bounds must be numbers") from None
    if len(parsed) != len(buckets) or any(b.min >= b.max for b in parsed):
        raise RulesError("each rating bucket needs a name and min < max")
    if any(a.max != b.min for a, b in pairwise(parsed)):
        raise RulesError("rating buckets must follow each other without gaps")
    return parsed
