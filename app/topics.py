"""The project's Kafka topics, and where each event type is published."""

from __future__ import annotations

USER_TOPICS: dict[str, str] = {
    "watch": "user_watch_log",
    "click": "user_click_log",
    "comment": "user_comment_log",
}
# Segment messages the model takes no event from, kept raw: backed up and audited, not modelled.
SEGMENT_TOPIC = "segment_messages"
KEPT_RAW_TYPE = "segment"  # their event type, in the backup and the audit
# Where each event type is published: the user topics, and the Segment messages kept raw.
TOPIC_OF_TYPE: dict[str, str] = {**USER_TOPICS, KEPT_RAW_TYPE: SEGMENT_TOPIC}
MOVIE_TOPIC = "movie"
RECEIPTS_TOPIC = "ingest_receipts"  # what ingest acknowledged, for the audit
