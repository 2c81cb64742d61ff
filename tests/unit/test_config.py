import subprocess

import pytest
from pydantic import ValidationError

from app.config import FallbackMode, Settings, mask_url_password


def test_defaults_point_at_the_local_stack():
    settings = Settings(_env_file=None)
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.mongo_url == "mongodb://127.0.0.1:27017/"
    assert settings.database_url.endswith("@127.0.0.1:55432/movies")
    assert settings.api_port == 8000


def test_environment_overrides_defaults(monkeypatch):
    monkeypatch.setenv("API_PORT", "9123")
    monkeypatch.setenv("FALLBACK_MODE", "manual")
    settings = Settings(_env_file=None)
    assert settings.api_port == 9123
    assert settings.fallback_mode is FallbackMode.MANUAL


def test_invalid_values_are_refused(monkeypatch):
    monkeypatch.setenv("FALLBACK_MODE", "sometimes")
    with pytest.raises(ValidationError, match="fallback_mode"):
        Settings(_env_file=None)


def test_env_lines_mask_secrets_and_passwords():
    settings = Settings(
        _env_file=None,
        tmdb_api_token="very-secret-token",
        database_url="postgresql://analyst:hunter2@db.internal:5432/movies",
    )
    lines = settings.as_env_lines()
    text = "\n".join(lines)
    assert "very-secret-token" not in text
    assert "hunter2" not in text
    assert "# TMDB_API_TOKEN='********'  (masked)" in lines
    assert (
        "# DATABASE_URL='postgresql://analyst:********@db.internal:5432/movies'  (masked)" in lines
    )
    assert all("=" in line and line.lstrip("# ").split("=", 1)[0].isupper() for line in lines)


def test_mask_url_password_leaves_urls_without_password_alone():
    assert mask_url_password("mongodb://127.0.0.1:27017/") == "mongodb://127.0.0.1:27017/"


def test_sqlalchemy_url_uses_the_asyncpg_dialect():
    settings = Settings(_env_file=None, database_url="postgresql://u@h:1/d")
    assert settings.sqlalchemy_database_url == "postgresql+asyncpg://u@h:1/d"
    with pytest.raises(ValueError, match="postgresql://"):
        _ = Settings(_env_file=None, database_url="mysql://u@h/d").sqlalchemy_database_url


def test_topics_cover_every_event_type_segment_movies_receipts_and_dead_letters():
    topics = Settings(_env_file=None).topics
    assert set(topics) == {
        "user_watch_log",
        "user_click_log",
        "user_comment_log",
        "segment_messages",
        "movie",
        "ingest_receipts",
        "dead_letter",
    }


def test_env_lines_read_back_through_a_shell_as_they_were(tmp_path):
    settings = Settings(
        _env_file=None,
        tmdb_full_sync_cron="0 3 * * *",
        log_level="INFO",
        tmdb_api_url="http://x/$HOME",
    )
    (tmp_path / "a file a glob would find").touch()
    script = 'eval "$1"; printf "%s\\n" "$TMDB_FULL_SYNC_CRON" "$TMDB_API_URL" "$API_PORT"'
    shell = subprocess.run(
        ["sh", "-c", script, "sh", "\n".join(settings.as_env_lines())],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert shell.stdout.splitlines() == ["0 3 * * *", "http://x/$HOME", str(settings.api_port)]


def test_eval_of_the_env_lines_leaves_a_real_secret_alone():
    settings = Settings(_env_file=None, tmdb_api_token="shown-nowhere")
    shell = subprocess.run(
        ["sh", "-c", 'TMDB_API_TOKEN=real; eval "$1"; printf %s "$TMDB_API_TOKEN"', "sh",
         "\n".join(settings.as_env_lines())],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert shell.stdout == "real"
