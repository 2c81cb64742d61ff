"""Checks that a decoded record can be written to every store: each field of the kind its
definition says, every integer within 64 bits (BSON and bigint), no NUL in any string
(PostgreSQL text). What fails goes to the dead-letter topic instead of crashing a sink."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any

from jobs.stored_event import StoredField

INT64 = range(-(2**63), 2**63)
INT32 = range(-(2**31), 2**31)


class FieldError(ValueError):
    """A field that no store could hold; the message names it."""


def check_field(field: StoredField, value: Any, where: str) -> None:
    if value is None:
        if field.required:
            raise FieldError(f"{where} is missing")
        return
    kind = field.kind
    if kind in ("text", "uuid", "timestamp") and not isinstance(value, str):
        raise FieldError(f"{where} must be a string")
    if kind == "uuid":
        try:
            uuid.UUID(value)
        except ValueError:
            raise FieldError(f"{where} is not a UUID") from None
    elif kind == "timestamp":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise FieldError(f"{where} is not an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise FieldError(f"{where} has no UTC offset")
        try:
            moment.astimezone(UTC)  # what every store does with it
        except OverflowError:
            raise FieldError(f"{where} is out of range") from None
    elif kind in ("bigint", "integer"):
        bounds = INT64 if kind == "bigint" else INT32
        if isinstance(value, bool) or not isinstance(value, int) or value not in bounds:
            raise FieldError(f"{where} must be a whole number within {kind} range")
    elif kind == "double":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FieldError(f"{where} must be a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise FieldError(f"{where} must be finite")
    elif kind == "object" and not isinstance(value, dict):
        raise FieldError(f"{where} must be an object")


def check_storable(document: Any, where: str = "") -> None:
    """Every value anywhere: integers within 64 bits, strings (and keys) free of NUL."""
    pending = [(document, where)]
    while pending:
        value, at = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise FieldError(f"{at or 'a value'} holds a NUL character")
        elif isinstance(value, bool) or value is None or isinstance(value, float):
            continue
        elif isinstance(value, int):
            if value not in INT64:
                raise FieldError(f"{at or 'a value'} is beyond 64 bits")
        elif isinstance(value, dict):
            for key, child in value.items():
                if "\x00" in key:
                    raise FieldError(f"a key in {at or 'the record'} holds a NUL character")
                pending.append((child, f"{at}.{key}" if at else key))
        elif isinstance(value, list):
            pending.extend((child, at) for child in value)
