"""Typed domain errors.

Each error carries the RFC 9457 problem type, title and HTTP status it maps to, so the API
maps errors to ``application/problem+json`` in one place and never matches on message text.
"""

from __future__ import annotations

PROBLEM_BASE = "https://problems.content-service.dev/"


class DomainError(Exception):
    """Base of every error the service raises on purpose."""

    problem_type: str = "about:blank"
    title: str = "Request failed"
    status: int = 400

    def __init__(self, detail: str, **extensions: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class NotFound(DomainError):
    problem_type = PROBLEM_BASE + "not-found"
    title = "Resource not found"
    status = 404


class TenantMoved(DomainError):
    """The tenant lives in another residency zone now; ``zone`` and ``api_endpoints`` say where."""

    problem_type = PROBLEM_BASE + "tenant-moved"
    title = "The tenant moved to another residency zone"
    status = 421


class InvalidTransition(DomainError):
    problem_type = PROBLEM_BASE + "invalid-transition"
    title = "The resource is not in a state that allows this"
    status = 409


class ConcurrencyConflict(DomainError):
    problem_type = PROBLEM_BASE + "concurrent-modification"
    title = "The resource changed while this request was in flight"
    status = 409


class InvariantViolated(DomainError):
    problem_type = PROBLEM_BASE + "invariant-violated"
    title = "The change would break a rule of the resource"
    status = 422


class ValidationFailed(DomainError):
    problem_type = PROBLEM_BASE + "validation-failed"
    title = "The request is not valid"
    status = 422


class PayloadTooLarge(DomainError):
    problem_type = PROBLEM_BASE + "payload-too-large"
    title = "The declared content is larger than allowed"
    status = 413


class Forbidden(DomainError):
    problem_type = PROBLEM_BASE + "forbidden"
    title = "The caller's role does not allow this"
    status = 403


class Unauthorized(DomainError):
    problem_type = PROBLEM_BASE + "unauthorized"
    title = "Authentication required"
    status = 401
