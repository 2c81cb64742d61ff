"""RFC 9457 problem details for the public API, and the handlers that produce them."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from app.access.credentials import Forbidden, Unauthenticated
from app.serving.answers import Problem
from app.serving.params import BadParameter

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
MAX_DETAIL = 300  # a refused value is quoted, never echoed whole


def documented_problem(description: str) -> dict[str, Any]:
    """An OpenAPI response of problem details, under the media type they are served as."""
    problem_schema = {"schema": {"$ref": f"#/components/schemas/{Problem.__name__}"}}
    return {"model": Problem, "description": description, "content": {PROBLEM_JSON: problem_schema}}


def problem(
    status: int,
    kind: str,
    title: str,
    detail: str,
    parameter: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, object] = {
        "type": f"/problems/{kind}",
        "title": title,
        "status": status,
        "detail": detail[:MAX_DETAIL],
    }
    if parameter is not None:
        body["parameter"] = parameter[:64]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def invalid_parameter(parameter: str, detail: str) -> Response:
    return problem(422, "invalid-parameter", "Invalid parameter", detail, parameter)


def bad_parameter_response(_request: Request, error: Exception) -> Response:
    assert isinstance(error, BadParameter)
    return invalid_parameter(error.parameter, error.detail)


# RFC 6750: the realm, and whether a token was presented and refused. Nothing more: the
# answer must not tell whether the user exists.
CHALLENGE = 'Bearer realm="movie-pipeline"'


def unauthenticated_response(_request: Request, error: Exception) -> Response:
    assert isinstance(error, Unauthenticated)
    challenge = f'{CHALLENGE}, error="invalid_token"' if error.presented else CHALLENGE
    return problem(
        401, "unauthenticated", "Unauthenticated",
        "a bearer token of this user, or a service token, is needed",
        headers={"WWW-Authenticate": challenge},
    )  # fmt: skip


def forbidden_response(_request: Request, error: Exception) -> Response:
    assert isinstance(error, Forbidden)
    return problem(403, "forbidden", "Forbidden", str(error))


def keys_unavailable_response(_request: Request, error: Exception) -> Response:
    log.warning("a token could not be verified: %s", error)
    return problem(
        503, "unavailable", "Token verification unavailable",
        "the identity provider's keys could not be fetched; retry later",
        headers={"Retry-After": "5"},
    )  # fmt: skip


def validation_error_response(_request: Request, error: Exception) -> Response:
    """FastAPI's own checks of typed parameters, in the same shape as ours."""
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if part not in ("query", "path")]
    return invalid_parameter(".".join(location) or "(request)", str(first.get("msg", "invalid")))
