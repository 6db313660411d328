"""The branding overlay: a JWS of a tenant's branding, verified like manifests and licences.

A device checks the signature against the JWKS it trusts, that the overlay is for its own tenant,
and every branding rule again (so even a mis-issued overlay cannot inject CSS or hidden text);
anything else is refused, and the device falls back to no branding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from content_service.crypto.signing import MalformedClaims, verify
from content_service.domain.errors import ValidationFailed
from content_service.domain.tenant import Branding

BRANDING_TYPE = "branding-overlay+jwt"


class OverlayRefused(ValidationFailed):
    """The overlay verifies but is not for this tenant or breaks a branding rule."""


def verify_branding(
    token: str, jwks: Mapping[str, Any], tenant_id: str, *, issuer: str | None = None
) -> tuple[Branding, int]:
    """The branding and its revision, or a ``TokenError`` / :class:`OverlayRefused`.

    ``issuer``, when given (a device passes the one it pinned), must be the overlay's ``iss``.
    """
    claims = verify(token, jwks, typ=BRANDING_TYPE)
    if issuer is not None and claims.get("iss") != issuer:
        raise OverlayRefused(f"the branding overlay names issuer {claims.get('iss')!r}, not {issuer!r}")
    if claims.get("tenant_id") != tenant_id:
        raise OverlayRefused("the branding overlay is for another tenant")
    revision = claims.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 1:
        raise MalformedClaims("the overlay's revision is not a positive integer")
    try:
        return Branding.from_dict(claims.get("branding")), revision
    except ValidationFailed as error:
        raise OverlayRefused(f"the branding overlay breaks a rule: {error.detail}") from error
