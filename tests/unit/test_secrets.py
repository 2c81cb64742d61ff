"""No secret has a default in code: the local stack generates its own, readable by its owner
alone, and anywhere else a missing secret stops the service at start-up, named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.access.credentials import ServiceTokens
from app.config import Settings
from app.local_stack import local_stack_secrets
from app.segment.write_keys import WriteKeys
from devstack.secrets import GENERATED, ensure_secrets
from tests.support import REPO_ROOT


def test_no_secret_setting_has_a_default():
    fields = Settings.model_fields
    secrets = {
        name: field for name, field in fields.items() if "SecretStr" in str(field.annotation)
    }
    assert {"analytics_password", "auth_hs256_secret", "service_tokens"} <= set(secrets)
    assert all(field.default is None for field in secrets.values())


def test_the_local_stack_makes_its_secrets_once_readable_by_its_owner_alone(tmp_path):
    assert ensure_secrets(tmp_path) == list(GENERATED)
    file = tmp_path / "secrets.env"
    first = file.read_text()
    assert file.stat().st_mode & 0o777 == 0o600
    assert ensure_secrets(tmp_path) == []
    assert file.read_text() == first

    settings = Settings(_env_file=file)
    assert len(settings.secret("auth_hs256_secret")) >= 32
    assert settings.secret("analytics_password")
    tokens = ServiceTokens.from_json(settings.secret("service_tokens"))
    assert tokens.caller("not-the-token") is None


def test_a_setting_added_later_is_appended_to_an_older_file(tmp_path):
    file = tmp_path / "secrets.env"
    file.write_text("ANALYTICS_PASSWORD='kept-as-it-was'\n")
    file.chmod(0o600)
    assert ensure_secrets(tmp_path) == ["AUTH_HS256_SECRET", "SERVICE_TOKENS", "SEGMENT_WRITE_KEYS"]
    assert Settings(_env_file=file).secret("analytics_password") == "kept-as-it-was"


@pytest.mark.parametrize(("folder_mode", "file_mode"), [(0o755, 0o644), (0o777, 0o600)])
def test_secrets_others_could_read_or_plant_are_not_read(tmp_path, monkeypatch, folder_mode,
                                                         file_mode):  # fmt: skip
    ensure_secrets(tmp_path)
    monkeypatch.setenv("STACK_DIR", str(tmp_path))
    assert local_stack_secrets() == tmp_path / "secrets.env"
    (tmp_path / "secrets.env").chmod(file_mode)
    tmp_path.chmod(folder_mode)
    assert local_stack_secrets() is None


def test_a_malformed_service_tokens_setting_is_refused_without_echoing_it():
    with pytest.raises(ValueError) as refused:
        ServiceTokens.from_json('{"backend": "svc_secret-value-that-must-not-show"}')
    assert "SERVICE_TOKENS" in str(refused.value)
    assert "must-not-show" not in str(refused.value)


def test_a_malformed_write_keys_setting_is_refused_without_echoing_it():
    with pytest.raises(ValueError) as refused:
        WriteKeys.from_json('{"web": "wk_short"}')
    assert "SEGMENT_WRITE_KEYS" in str(refused.value)
    assert "wk_short" not in str(refused.value)


def nothing_set(tmp_path: Path) -> dict[str, str]:
    """The environment of a machine that is not the local stack: no secret anywhere."""
    secrets = ("AUTH_", "SERVICE_TOKENS", "SEGMENT_", "ANALYTICS_PASSWORD")
    env = {k: v for k, v in os.environ.items() if not k.startswith(secrets)}
    return {**env, "STACK_DIR": str(tmp_path)}


@pytest.mark.parametrize(
    ("command", "named"),
    [
        (["app"], "AUTH_JWKS_URL or AUTH_HS256_SECRET is not set"),
        (["app.ops.prestart"], "ANALYTICS_PASSWORD is not set"),
        (["app.jobs", "user-token", "u-1"], "AUTH_HS256_SECRET is not set"),
    ],
)
def test_a_missing_secret_stops_at_start_up_naming_the_setting(tmp_path, command, named):
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=REPO_ROOT, env=nothing_set(tmp_path),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert named in result.stderr
    assert "Traceback" not in result.stderr
