"""Matchers the consumers share: ids, times, and values the provider supplies through its states.

A consumer's pact says what the consumer sends and which parts of the answer it relies on; the
example values below are only examples. Values that exist only on the provider (a bundle's id,
a device's id, the caller's token) come from the provider state at verification time: the
interaction names the state, and a ``ProviderState`` generator puts the state's value in place of
the example (the verifier's state handler answers with those values).
"""

from __future__ import annotations

from typing import Any

from pact import generate, match
from pact.match.matcher import GenericMatcher

PACKAGE_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
BUNDLE_ID = r"^bnd_[0-9a-f]{32}$"
DEVICE_ID = r"^dev_[0-9a-f]{32}$"
SHA256 = r"^[0-9a-f]{64}$"
HTTP_URL = r"^https?://\S+$"

EXAMPLE_BUNDLE = "bnd_" + "0" * 31 + "1"
EXAMPLE_DEVICE = "dev_" + "0" * 31 + "2"
EXAMPLE_PACKAGE = "pkg-example"
EXAMPLE_USER = "learner-example"
EXAMPLE_TIME = "2026-01-02T03:04:05Z"


def from_state(example: str, expression: str, regex: str | None = None) -> Any:
    """A string the provider's state supplies: ``expression`` uses ``${name}`` for its values."""
    generator = generate.provider_state(expression)
    if regex is None:
        return GenericMatcher("type", example, generator=generator)
    return GenericMatcher("regex", example, generator=generator, regex=regex)


def bearer() -> Any:
    """The caller's token, in the Authorization header; the provider state mints a real one."""
    return from_state("Bearer example.token.signature", "Bearer ${token}", regex=r"^Bearer \S+$")


def timestamp(example: str = EXAMPLE_TIME) -> Any:
    """An RFC 3339 date-time, as pydantic writes it (``Z`` or an offset, fractions optional)."""
    return match.regex(example, regex=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def caller(interaction: Any, role: str) -> Any:
    """Name who calls: the first state of every interaction, whose handler mints that caller's token.

    ``role`` is one of the provider's callers: ``authoring service``, ``catalog service``,
    ``tenant admin``, ``learner``. Later states of the same interaction act for the same tenant
    (and, for a learner, the same user).
    """
    return interaction.given(f"the caller is the {role}").with_header("Authorization", bearer())


IDEMPOTENCY_KEY = r"^[A-Za-z0-9._:-]{8,128}$"
COMPACT_JWS = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"
EXAMPLE_JWS = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
TOKEN = "example.token.signature"


def idempotency_key() -> Any:
    """A fresh key for every replay, so two verifications never collide on the provider."""
    return GenericMatcher(
        "regex", "6f1c2a7e-0d6b-4c61-9a53-2f0f3c1b9e10", generator=generate.uuid(), regex=IDEMPOTENCY_KEY
    )


def problem(status: int) -> dict[str, Any]:
    """The part of an RFC 9457 problem a consumer relies on: its status (and that it is one)."""
    return {"status": status, "type": match.str("about:blank")}


EVENT_ID = r"^evt_[0-9a-f]{32}$"
EXAMPLE_EVENT_ID = "evt_" + "0" * 31 + "3"


def event(subject: str, data: dict[str, Any]) -> dict[str, Any]:
    """An event envelope as a consumer reads it: the inbox keys on ``id``, routing on ``subject``."""
    return {
        "id": match.regex(EXAMPLE_EVENT_ID, regex=EVENT_ID),
        "subject": subject,
        "version": 1,
        "tenant_id": match.str("tenant-example"),
        "occurred_at": timestamp(),
        "data": data,
    }


def on_the_bus(subject: str) -> dict[str, Any]:
    """The EventBridge attributes a consumer's rule selects on (``detail-type`` and ``source``)."""
    return {"detail-type": subject, "source": "content-service"}
