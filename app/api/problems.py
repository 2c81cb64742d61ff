"""RFC 9457 problem details for the public API, and the handlers that produce them."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from app.serving.answers import Problem
from app.serving.params import BadParameter

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


def validation_error_response(_request: Request, error: Exception) -> Response:
    """FastAPI's own checks of typed parameters, in the same shape as ours."""
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if part not in ("query", "path")]
    return invalid_parameter(".".join(location) or "(request)", str(first.get("msg", "invalid")))
