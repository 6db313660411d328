"""Tamper evidence: when a device's report contradicts what the service itself stored.

A device reports which object it checked (the bundle's signed manifest, or one package version's
container), the SHA-256 the signed manifest told it to expect, and the SHA-256 it found. The report
is corroborated, and may revoke the bundle by tenant policy, only when the expected digest is the
one the service stored for that object of that bundle and the found digest differs from it. Any
other report (no evidence, an object the bundle does not hold, an expected digest the service never
issued, found equal to expected) is recorded and alarmed, and revokes nothing: a device cannot talk
the service into revoking by claiming a mismatch it cannot show.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from content_service.domain.bundle import Bundle


@dataclass(frozen=True)
class TamperEvidence:
    """What the device checked: ``object`` is ``manifest`` or ``container`` (with its package version)."""

    object: str
    expected_sha256: str
    found_sha256: str
    package_id: str | None = None
    version: int | None = None


def stored_digest(bundle: Bundle, evidence: TamperEvidence) -> str | None:
    """The SHA-256 the service stored for the object the evidence names; None if the bundle has none."""
    if evidence.object == "manifest":
        return bundle.manifest_sha256
    if evidence.object == "container":
        for member in bundle.packages:
            if member.package_id == evidence.package_id and member.version == evidence.version:
                return member.container.sha256
    return None


def corroborates(bundle: Bundle, evidence: TamperEvidence | None) -> bool:
    """True if the evidence shows the device got other bytes than the service stored and signed."""
    if evidence is None:
        return False
    stored = stored_digest(bundle, evidence)
    if stored is None:
        return False
    expected, found = evidence.expected_sha256.lower(), evidence.found_sha256.lower()
    return hmac.compare_digest(expected, stored.lower()) and not hmac.compare_digest(found, expected)
