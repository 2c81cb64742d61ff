"""Where the local stack keeps downloads (a cache shared by every clone) and its running state."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parent


def cache_dir() -> Path:
    """Downloads and builds, shared by every clone (MOVIE_PIPELINE_CACHE, ~/.cache/...)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "movie-pipeline"
    return Path(os.environ.get("MOVIE_PIPELINE_CACHE", default))


def state_dir() -> Path:
    """Data, logs and pid files of the running services.

    Not under the home directory: as root, PostgreSQL runs as the `postgres` user, which must
    reach its data directory, and /root is closed to it.
    """
    return Path(os.environ.get("STACK_DIR", "/var/tmp/movie-pipeline-stack"))


def content_key(*files: Path) -> str:
    """A short digest of build inputs, so a changed pom or go.sum gets a fresh cache entry."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.read_bytes())
    return digest.hexdigest()[:12]
