"""The `segment` section of transform_rules.json: which Segment messages become which events.

Beside the other business rules, so that the people who own them own this too. A field is a
dotted path into the message (`properties.position`) or a constant (`{"const": "start"}`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.rules import DEFAULT_RULES_PATH, RulesError
from jobs.stored_event import CONTEXT_FIELDS, PAYLOAD_FIELDS

# What the Segment door sets itself, never a mapping.
SERVER_CONTEXT = ("source", "client_timestamp")


Getter = Callable[[dict[str, Any]], object]


@dataclass(frozen=True)
class FieldRule:
    """`value(message)`: the field's value, or None where the path leads nowhere (a step
    missing, or into something not an object). Made once per rule: every mapped message
    reads about ten of them."""

    value: Getter


def path_getter(path: tuple[str, ...]) -> Getter:
    first, rest = path[0], path[1:]
    if not rest:
        return lambda message: message.get(first)

    def value(message: dict[str, Any]) -> object:
        found = message.get(first)
        for step in rest:
            if type(found) is not dict:
                return None
            found = found.get(step)
        return found

    return value


@dataclass(frozen=True)
class TrackMapping:
    event_type: str
    payload: dict[str, FieldRule]
    movie_id: FieldRule


@dataclass(frozen=True)
class SegmentRules:
    user_fields: tuple[str, ...]  # the first one set names the user
    context: dict[str, FieldRule]  # but the user agent, which the server sets
    user_agent: FieldRule | None
    track: dict[str, TrackMapping]  # by the track's event name


def load_segment_rules(path: Path = DEFAULT_RULES_PATH) -> SegmentRules:
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError) as error:
        raise RulesError(f"{path}: cannot read the rules: {error}") from None
    try:
        return parse_segment_rules(document.get("segment"))
    except RulesError as error:
        raise RulesError(f"{path}: segment: {error}") from None


def parse_segment_rules(section: object) -> SegmentRules:
    if not isinstance(section, dict):
        raise RulesError("must be an object")
    users = section.get("user")
    if not isinstance(users, list) or not users or not all(isinstance(u, str) for u in users):
        raise RulesError("user must be a non-empty list of message fields")
    movie_id = field_rule(section.get("movie_id"), "movie_id")
    context = section.get("context")
    if not isinstance(context, dict):
        raise RulesError("context must be an object")
    allowed_context = {field.name for field in CONTEXT_FIELDS} - set(SERVER_CONTEXT)
    if unknown := set(context) - allowed_context:
        raise RulesError(f"context names fields events do not have: {sorted(unknown)}")
    tracks = section.get("track")
    if not isinstance(tracks, dict):
        raise RulesError("track must be an object of event names")
    rules = {name: field_rule(rule, f"context.{name}") for name, rule in context.items()}
    return SegmentRules(
        user_fields=tuple(users),
        context={name: rule for name, rule in rules.items() if name != "user_agent"},
        user_agent=rules.get("user_agent"),
        track={name: track_mapping(name, rule, movie_id) for name, rule in tracks.items()},
    )


def track_mapping(name: str, rule: object, default_movie: FieldRule) -> TrackMapping:
    where = f"track[{name!r}]"
    if not isinstance(rule, dict):
        raise RulesError(f"{where} must be an object")
    event_type = rule.get("event_type")
    if event_type not in PAYLOAD_FIELDS:
        raise RulesError(f"{where}.event_type must be one of {sorted(PAYLOAD_FIELDS)}")
    payload = rule.get("payload")
    if not isinstance(payload, dict):
        raise RulesError(f"{where}.payload must be an object")
    fields = {field.name: field for field in PAYLOAD_FIELDS[event_type]}
    if unknown := set(payload) - set(fields):
        raise RulesError(f"{where}.payload names fields {event_type} lacks: {sorted(unknown)}")
    if missing := {name for name, field in fields.items() if field.required} - set(payload):
        raise RulesError(f"{where}.payload lacks the required {sorted(missing)}")
    movie = rule.get("movie_id")
    return TrackMapping(
        event_type,
        {key: field_rule(value, f"{where}.payload.{key}") for key, value in payload.items()},
        default_movie if movie is None else field_rule(movie, f"{where}.movie_id"),
    )


def field_rule(rule: object, where: str) -> FieldRule:
    if isinstance(rule, str) and rule and all(rule.split(".")):
        return FieldRule(path_getter(tuple(rule.split("."))))
    if isinstance(rule, dict) and set(rule) == {"const"}:
        const = rule["const"]
        return FieldRule(lambda _: const)
    raise RulesError(f'{where} must be a dotted path or {{"const": value}}')
