"""Log lines for a person at a terminal, JSON for everything else; secrets masked in both."""

from __future__ import annotations

import io
import logging
import os

import orjson

from app.logs import ConsoleFormatter, JsonFormatter, chosen_formatter


def record_with(message: str, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "app.test", "levelname": "WARNING", "msg": message})
    record.__dict__.update(extra)
    return record


def test_auto_means_console_on_a_terminal_and_json_elsewhere():
    leader, follower = os.openpty()
    with open(follower, "w") as terminal, open(leader, "rb", buffering=0):
        assert isinstance(chosen_formatter("auto", terminal), ConsoleFormatter)
    assert isinstance(chosen_formatter("auto", io.StringIO()), JsonFormatter)
    assert isinstance(chosen_formatter("json", io.StringIO()), JsonFormatter)
    assert isinstance(chosen_formatter("console", io.StringIO()), ConsoleFormatter)


def test_a_console_line_reads_as_a_sentence_with_its_fields_and_no_secret():
    record = record_with("fetched https://api.example/m?api_key=abc123", group="mongo-backup")
    line = ConsoleFormatter().format(record)
    assert line.endswith(
        "warning app.test: fetched https://api.example/m?api_key=******** group=mongo-backup"
    )
    assert "abc123" not in line and "\n" not in line


def test_a_json_line_is_one_object():
    entry = orjson.loads(JsonFormatter().format(record_with("hello", group="g")))
    assert (entry["level"], entry["message"], entry["group"]) == ("warning", "hello", "g")
