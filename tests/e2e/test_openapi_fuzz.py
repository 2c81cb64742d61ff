"""The whole OpenAPI document fuzzed by schemathesis against the service as users run it:
no 5xx, and every answer's status, media type, headers and body as the document says."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

from tests.support import REPO_ROOT, ServiceProcess

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def test_every_operation_answers_as_the_document_says():
    """As the app's backend: a service token reaches past the per-user routes' 401."""
    token = f"svc_fuzz_{uuid.uuid4().hex}"
    backend = json.dumps({"fuzz": {"token": token, "scopes": ["users:read"]}})
    write_key = f"wk_fuzz_{uuid.uuid4().hex}"
    service = ServiceProcess(RUN_CONSUMERS="false", RUN_SCHEDULER="false", SERVICE_TOKENS=backend,
                             SEGMENT_WRITE_KEYS=json.dumps({"fuzz": write_key}))  # fmt: skip
    service.start()
    try:
        run = subprocess.run(
            [str(SCHEMATHESIS), "--config-file", str(REPO_ROOT / "tests" / "schemathesis.toml"),
             "run", f"{service.base_url}/openapi.json", "--no-color",
             "--header", f"Authorization: Bearer {token}"],
            capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
            env={**os.environ, "SEGMENT_FUZZ_WRITE_KEY": write_key},
        )  # fmt: skip
    finally:
        service.stop()
    summary = run.stdout[run.stdout.rfind("SUMMARY") :]
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    # Every case generated passed. (Warnings may say "failed": /api/me/stats answers a service
    # token 403 whatever it is sent, as it must.)
    cases = re.search(r"\d+ generated, \d+ passed[^\n]*", summary)
    assert "Tested: 11" in summary and "❌" not in summary, summary
    assert cases and "fail" not in cases[0] and "error" not in cases[0], summary
