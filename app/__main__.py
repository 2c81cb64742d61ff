"""`python -m app`: run the service with uvicorn on API_HOST:API_PORT."""

from __future__ import annotations

from app.config import get_settings
from app.logs import configure_logging
from app.server import serve


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    serve(settings)


if __name__ == "__main__":
    main()
