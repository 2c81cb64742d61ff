"""The audit's alerting rules pass their promtool unit tests, and those tests can fail."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "deploy" / "prometheus"
RULES = RULES_DIR / "audit_rules.yml"
RULES_TEST = RULES_DIR / "audit_rules_test.yml"

FINDING_OPEN_EXPR = 'sum by (stage, kind) (audit_open_findings{kind=~"missing|duplicate"}) > 0'


def promtool() -> str:
    # A missing tool fails rather than skips, so the rules can't go untested unnoticed.
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not on PATH; `make test-tools` installs it (Debian's prometheus)")
    return path


def run_promtool(test_file: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), "test", "rules", str(test_file)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_audit_rules_pass_their_unit_tests():
    result = run_promtool(RULES_TEST.relative_to(ROOT), ROOT)
    assert result.returncode == 0, f"promtool test rules failed:\n{result.stdout}{result.stderr}"


def test_the_unit_tests_fail_when_an_alert_cannot_fire(tmp_path):
    rules = RULES.read_text(encoding="utf-8")
    assert rules.count(FINDING_OPEN_EXPR) == 1, "AuditFindingOpen's expression has changed"
    (tmp_path / RULES.name).write_text(
        rules.replace(FINDING_OPEN_EXPR, FINDING_OPEN_EXPR.replace("> 0", "> 1e12")),
        encoding="utf-8",
    )
    shutil.copy(RULES_TEST, tmp_path / RULES_TEST.name)

    result = run_promtool(tmp_path / RULES_TEST.name, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"promtool passed rules that cannot fire:\n{output}"
    assert "alertname: AuditFindingOpen" in output, output
