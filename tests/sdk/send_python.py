"""Segment's Python SDK (segment-analytics-python) sending a plan of calls, as a backend using
it would; run under one of the SDK venvs of `make test-sdks`, so that the tests see what the
SDK itself puts on the wire rather than what we think it does.

The plan comes as JSON on stdin:
    {"host": "http://127.0.0.1:8000", "write_key": "...", "max_retries": 3,
     "clock_skew_seconds": 0, "calls": [{"method": "track", "user_id": "...", "event": "...",
     "properties": {...}, "context": {...}, "timestamp": "ISO 8601", "message_id": "..."}]}
Each call's fields other than `method` are the SDK method's keyword arguments, but for
`seconds_ago`: the call's timestamp, that long before now by the client's clock, read when the
call is made. The result goes to stdout as JSON: {"sent": [each message as the SDK queued it],
"errors": [what on_error reported]}.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

SKEW = timedelta()  # how far the client's clock is off


def clock() -> datetime:
    return datetime.now(UTC) + SKEW


def skew_the_clock(seconds: float) -> None:
    """The SDK stamps each batch's `sentAt` from the client's clock: a clock that is off is
    played by moving the SDK's reading of it, in this process only."""
    global SKEW
    from segment.analytics import request

    SKEW = timedelta(seconds=seconds)
    real = request.datetime

    class SkewedDatetime(real):  # type: ignore[misc, valid-type]
        @classmethod
        def now(cls, tz: Any = None) -> datetime:
            return real.now(tz) + SKEW

    request.datetime = SkewedDatetime


def send(client: Any, call: dict[str, Any]) -> dict[str, Any]:
    arguments = {key: value for key, value in call.items() if key != "method"}
    if "seconds_ago" in arguments:
        arguments["timestamp"] = clock() - timedelta(seconds=arguments.pop("seconds_ago"))
    elif isinstance(arguments.get("timestamp"), str):
        arguments["timestamp"] = datetime.fromisoformat(arguments["timestamp"])
    queued, message = getattr(client, call["method"])(**arguments)
    if not queued:
        raise SystemExit(f"the SDK did not queue {call}")
    return message


def main() -> None:
    plan = json.load(sys.stdin)
    if plan.get("clock_skew_seconds"):
        skew_the_clock(plan["clock_skew_seconds"])
    from segment.analytics.client import Client

    errors: list[dict[str, Any]] = []

    def on_error(error: Exception, batch: list[dict[str, Any]]) -> None:
        errors.append({"error": str(error), "message_ids": [m.get("messageId") for m in batch]})

    client = Client(
        plan["write_key"],
        host=plan["host"],
        max_retries=plan.get("max_retries", 3),
        timeout=plan.get("timeout_seconds", 10),
        upload_interval=0.05,
        on_error=on_error,
    )
    sent = [send(client, call) for call in plan["calls"]]
    client.shutdown()
    json.dump({"sent": sent, "errors": errors}, sys.stdout, default=str)


if __name__ == "__main__":
    main()
