"""The columns of the model tables both engines produce, in table order."""

FACT_COLUMNS = (
    "event_id", "event_type", "user_id", "client_session_id", "movie_id",
    "occurred_at", "received_at", "event_date", "event_hour",
    "watch_action", "position_seconds", "duration_seconds", "watch_seconds",
    "completion_ratio", "is_completed",
    "click_element", "click_target", "page", "device", "locale",
    "rating", "rating_bucket", "emotion", "emotion_score", "primary_emotion",
    "is_valid", "invalid_reason", "rules_version",
)  # fmt: skip

SESSION_COLUMNS = (
    "session_id", "user_id", "session_start", "session_end", "duration_seconds",
    "event_count", "watch_count", "click_count", "comment_count", "movies_watched",
    "watch_seconds", "rules_version",
)  # fmt: skip

# The fact columns that sessions are built from.
SESSION_INPUT_COLUMNS = (
    "event_id", "user_id", "movie_id", "event_type", "occurred_at", "watch_seconds", "is_valid",
)  # fmt: skip
