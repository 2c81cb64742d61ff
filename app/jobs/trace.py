"""`python -m app.jobs trace EVENT_ID`: where one event is, store by store (exit 1 if
nowhere)."""

from __future__ import annotations

import argparse
import uuid

import asyncpg

from app.bootstrap import Resources
from app.ops.lineage import EventTrace, trace_event


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("event_id", type=uuid.UUID, help="the event's id (a UUID)")


async def run(args: argparse.Namespace, resources: Resources) -> int:
    trace = await trace_event(resources, args.event_id)
    print("\n".join(describe(trace)))
    return 0 if trace.found_anywhere else 1


def describe(trace: EventTrace) -> list[str]:
    """One line per store, saying what it holds of the event or that it holds nothing."""
    lines = [f"event {trace.event_id}"]
    coordinates = kafka_coordinates(trace)
    if coordinates is not None:
        lines.append(f"  kafka:           {coordinates}")
    if trace.raw is None:
        lines.append("  raw.user_logs:   not backed up")
    else:
        lines.append(f"  raw.user_logs:   backed up (received {trace.raw.get('received_at')})")
    if trace.staged is None:
        lines.append("  stg_user_logs:   not staged")
    else:
        staged = trace.staged
        lines.append(
            f"  stg_user_logs:   {staged['event_type']} of {staged['user_id']}, received "
            f"{staged['received_at']:%Y-%m-%d %H:%M:%S}"
            + (", its text in stg_comments" if trace.comment_staged else "")
        )
    lines.append(fact_line("fact_user_event", trace.fact, trace.session))
    lines.append(fact_line("fallback", trace.fallback_fact, trace.fallback_session))
    if not trace.dead_letters:
        lines.append("  dead letters:    none")
    for letter in trace.dead_letters:
        lines.append(
            f"  dead letter:     {letter.group} refused {letter.origin}: {letter.reason} "
            f"(dead_letter partition {letter.partition} offset {letter.offset})"
        )
    return lines


def kafka_coordinates(trace: EventTrace) -> str | None:
    """Where the consumers read the event, as either store remembers it."""
    if trace.raw is not None and "kafka" in trace.raw:
        kafka = trace.raw["kafka"]
        return f"{kafka['topic']} partition {kafka['partition']} offset {kafka['offset']}"
    if trace.staged is not None:
        staged = trace.staged
        return (
            f"{staged['kafka_topic']} partition {staged['kafka_partition']} "
            f"offset {staged['kafka_offset']}"
        )
    return None


def fact_line(name: str, fact: asyncpg.Record | None, session: asyncpg.Record | None) -> str:
    label = f"  {name + ':':<17}"
    if fact is None:
        return f"{label}not modelled"
    validity = "valid" if fact["is_valid"] else f"invalid ({fact['invalid_reason']})"
    where = (
        f"session {session['session_id']} ({session['event_count']} events)"
        if session is not None
        else "no session"
    )
    return (
        f"{label}{validity}, by {fact['source_flag']} under rules {fact['rules_version']}, {where}"
    )
