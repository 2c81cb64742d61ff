"""Where the local stack (`make up`) keeps its generated secrets and its downloads: the
settings' defaults (app/config.py), which alone read these paths."""

from __future__ import annotations

import os
from pathlib import Path


def local_stack_secrets() -> Path | None:
    """The secrets the local stack generated (`make up`), if there are any and they are this
    user's alone; the environment and `.env` override them."""
    path = Path(os.environ.get("STACK_DIR", "/var/tmp/movie-pipeline-stack")) / "secrets.env"
    try:
        folder, file = path.parent.stat(), path.stat()
    except OSError:
        return None
    # Under a world-writable /var/tmp, anyone could plant a folder or a file of secrets.
    planted = any(s.st_uid != os.getuid() or s.st_mode & 0o022 for s in (folder, file))
    return None if planted or file.st_mode & 0o077 else path


def local_cache_dir() -> Path:
    """Where the local stack keeps its downloads, as `make up` chose it."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "movie-pipeline"
    return Path(os.environ.get("MOVIE_PIPELINE_CACHE", default))
