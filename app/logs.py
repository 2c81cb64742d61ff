"""Logs on stderr with secrets masked: JSON, one object per line, for machines; or lines for a
person at a terminal (`LOG_FORMAT=console`, the default when stderr is one).

Secrets can reach a log line from libraries we do not control (httpx logs every request URL,
and a TMDB v3 key travels in the query string), so every line is masked as it is written.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import TextIO

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


class ConsoleFormatter(logging.Formatter):
    """`12:00:03 warning app.consumers: message key=value ...`, in local time."""

    def format(self, record: logging.LogRecord) -> str:
        clock = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        extras = "".join(
            f" {key}={value}"
            for key, value in record.__dict__.items()
            if key not in _STANDARD_ATTRIBUTES
        )
        line = f"{clock} {record.levelname.lower():<7} {record.name}: {record.getMessage()}{extras}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return mask_secrets(line)


def chosen_formatter(log_format: str, stream: TextIO) -> logging.Formatter:
    """`auto` means console lines for a terminal, JSON for anything else."""
    if log_format == "auto":
        log_format = "console" if stream.isatty() else "json"
    return ConsoleFormatter() if log_format == "console" else JsonFormatter()


def configure_logging(level: str, log_format: str = "auto") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(chosen_formatter(log_format, sys.stderr))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
