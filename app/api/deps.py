"""What routes need from the composition root, as FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.access.credentials import Caller
from app.bootstrap import Resources


# A coroutine, so FastAPI runs it in place rather than on its thread pool (a hop per request).
async def get_resources(request: Request) -> Resources:
    return request.app.state.resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def get_caller(request: Request) -> Caller:
    """Who is calling, from the Authorization header; 401 when nobody verifiable."""
    return await request.app.state.authenticator.caller(request.headers.get("authorization"))


CallerDep = Annotated[Caller, Depends(get_caller)]
