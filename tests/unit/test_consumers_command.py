"""`python -m app.consumers`: which groups it runs."""

from __future__ import annotations

import pytest

from app.consumers.__main__ import chosen_groups
from app.consumers.groups import GROUPS


def test_no_group_named_runs_every_group():
    assert chosen_groups([]) == list(GROUPS)


def test_named_groups_run_alone():
    assert chosen_groups(["postgres-staging", "mongo-backup"]) == [
        "postgres-staging",
        "mongo-backup",
    ]


def test_an_unknown_group_is_refused(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        chosen_groups(["no-such-group"])
    assert "invalid choice: 'no-such-group'" in capsys.readouterr().err
