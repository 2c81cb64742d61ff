"""`python -m app [--role all|api|consumers|scheduler]`: run the service, or one part of it.

The roles are described in `app/roles.py`; `all`, the default, is the whole service.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

from app.config import MissingSetting, Settings, get_settings
from app.logs import configure_logging

ROLE_CHOICES = ("all", "api", "consumers", "scheduler")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    parser.add_argument("--role", choices=ROLE_CHOICES, default="all")
    role = parser.parse_args().role
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    metrics_folder = shared_metrics_folder(settings, role)
    try:
        # Imported only now: Prometheus picks its multi-process mode when first imported.
        from app.bootstrap import check_access_settings
        from app.roles import run_role

        if role in ("all", "api"):
            try:
                check_access_settings(settings)
            except (MissingSetting, ValueError) as error:
                raise SystemExit(f"error: {error}") from None
        run_role(role, settings)
    finally:
        if metrics_folder:
            shutil.rmtree(metrics_folder, ignore_errors=True)


def shared_metrics_folder(settings: Settings, role: str) -> str | None:
    """With several processes (API workers, or the consumers beside them), each writes its
    metrics to a folder they share, so that any worker's /metrics counts them all. Made here
    unless the operator names one."""
    one_process = role != "all" and settings.api_workers == 1
    if one_process or "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        return None
    folder = tempfile.mkdtemp(prefix="movie-pipeline-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    return folder


if __name__ == "__main__":
    main()
