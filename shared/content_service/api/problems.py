"""RFC 9457 problem details: the one place where errors become HTTP responses."""

from __future__ import annotations

import json
import logging
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from content_service.api.models import ProblemError
from content_service.domain.errors import PROBLEM_BASE, DomainError

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger(__name__)


def problem(
    status: int, title: str, detail: str, problem_type: str = "about:blank", **extensions: Any
) -> Response:
    body: dict[str, Any] = {"type": problem_type, "title": title, "status": status, "detail": detail}
    body.update(extensions)
    # Powertools serialises only application/json bodies, so the problem document is encoded here.
    return Response(status_code=status, content_type=PROBLEM_JSON, body=json.dumps(body))


def from_domain_error(error: DomainError) -> Response:
    return problem(error.status, error.title, error.detail, error.problem_type, **error.extensions)


def from_validation_error(error: RequestValidationError) -> Response:
    # Only the location, type and message of each error: never the input or Python internals.
    # Each entry is a ProblemError, the shape a failed job's problem lists its errors in too.
    errors = [
        ProblemError(
            loc=[str(part) for part in e.get("loc", ())], type=e.get("type", ""), msg=e.get("msg", "")
        ).model_dump()
        for e in error.errors()
    ]
    return problem(
        422,
        "The request is not valid",
        "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors) or "invalid request",
        PROBLEM_BASE + "validation-failed",
        errors=errors,
    )


def not_found(path: str) -> Response:
    return problem(404, "Resource not found", f"no route or resource at {path}", PROBLEM_BASE + "not-found")


def internal_error(error: Exception) -> Response:
    logger.exception("unhandled error", exc_info=error)
    return problem(
        500, "Internal error", "the service failed; the error is logged", PROBLEM_BASE + "internal"
    )
