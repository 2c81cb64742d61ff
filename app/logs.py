"""Structured JSON logs on stderr, one object per line, with secrets masked.

Secrets can reach a log line from libraries we do not control (httpx logs every request URL,
and a TMDB v3 key travels in the query string), so every line is masked as it is written.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime

import orjson

# uvicorn adds an ANSI-coloured copy of each message, useless in JSON.
_STANDARD_ATTRIBUTES = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "color_message",
}
SECRET_PATTERNS = (
    re.compile(r"(?i)(api_key=)[^&\s\"']+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(password=)[^&\s\"']+"),
    re.compile(r"(://[^:/@\s\"']+:)[^@\s\"']+(?=@)"),  # a password in a URL
)
MASK = "********"
# Libraries that log every request at INFO: their detail is noise, and may hold credentials.
CHATTY_LOGGERS = ("httpx", "httpcore")


def mask_secrets(text: str) -> str:
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(lambda match: f"{match.group(1)}{MASK}", text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Fields passed with `extra=` travel as attributes of the record.
        entry.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in _STANDARD_ATTRIBUTES
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return mask_secrets(orjson.dumps(entry, default=str).decode())


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
