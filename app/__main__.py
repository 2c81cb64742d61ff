"""`python -m app`: run the service with uvicorn on API_HOST:API_PORT."""

from __future__ import annotations

import uvicorn

from app.config import get_settings
from app.logs import configure_logging
from app.main import create_app


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
