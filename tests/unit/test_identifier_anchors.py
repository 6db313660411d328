"""Identifiers and names checked with ``re`` are whole-string matches: ``$`` also matches before a
trailing newline, so ``pattern.match("acme\\n")`` passes a ``^...$`` pattern. Every check here
must refuse such a value (and its value without the newline must pass, so the test can fail)."""

from __future__ import annotations

import pytest

from content_service.api.auth import principal_from_context
from content_service.domain.errors import Unauthorized, ValidationFailed
from content_service.domain.tenant import Branding


def _context(tenant: str, principal: str) -> dict[str, str]:
    return {"tenant_id": tenant, "principal_id": principal, "principal_type": "user", "roles": "learner"}


def test_a_token_context_with_a_trailing_newline_in_its_tenant_or_subject_is_refused() -> None:
    assert principal_from_context(_context("acme", "u-1")).tenant_id == "acme"
    with pytest.raises(Unauthorized):
        principal_from_context(_context("acme\n", "u-1"))
    with pytest.raises(Unauthorized):
        principal_from_context(_context("acme", "u-1\n"))


def test_a_brand_colour_with_a_trailing_newline_is_refused() -> None:
    assert Branding("Acme", "#0a5cff", css_properties=(("--gap", "4px"),)).primary_colour == "#0a5cff"
    with pytest.raises(ValidationFailed):
        Branding("Acme", "#0a5cff\n")
    with pytest.raises(ValidationFailed):
        Branding("Acme", "#0a5cff", css_properties=(("--gap\n", "4px"),))
