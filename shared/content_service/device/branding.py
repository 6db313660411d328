"""The tenant's white-label branding on the device: fetched when it changed, kept sealed, applied at launch.

Every signed sync status carries the tenant's ``branding_revision`` (0: unbranded); when it is not
the one the device holds, the device fetches ``GET /v1/tenant/branding`` (a JWS of ``typ``
``branding-overlay+jwt``) and keeps it only if ``Trust.branding`` accepts it (pinned keys, issuer,
tenant and every branding rule, ``crypto/overlay.verify_branding``) and it is no older than the
one held. The overlay is written beside the bundles as ``branding.jws``; its revision and SHA-256
go into the sealed state root, so an edited, swapped or restored overlay file is refused.

An overlay whose branding names a logo (``branding.logo``: SHA-256, media type, size) is kept only
with the logo: the device fetches ``GET /v1/tenant/branding/logo`` (reading at most the signed size
plus one byte) and keeps the bytes as ``branding-logo`` only if their size, SHA-256 and image
signature are the signed ones; other bytes are refused like a forged overlay. At launch the stored
logo is checked against the verified overlay again and offered to the page as ``--brand-logo``, a
``data:`` URL in the injected stylesheet (the page needs no other request, the content no change).

At launch the held overlay is checked again. One that does not verify, or is not the one the root
sealed, is refused: the content is shown unbranded and a ``device.branding_refused`` signal is
queued (never a tamper report: no bundle is at stake). The branding is injected into the page the
launcher serves, never into the content: the content's bytes and hashes stay what was signed.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from content_service.crypto.signing import TokenError
from content_service.device.errors import InsecureStateDir
from content_service.device.http import DeviceApi
from content_service.device.reports import Reporter
from content_service.device.state import DeviceState
from content_service.device.store import DeviceStore, read_private, write_private
from content_service.device.trust import Trust, UntrustedKey
from content_service.domain.errors import ValidationFailed
from content_service.domain.tenant import Branding

_HEAD = re.compile(rb"<head(\s[^>]*)?>", re.IGNORECASE)
_DOCTYPE = re.compile(rb"^\s*<!doctype[^>]*>", re.IGNORECASE)
_PAGES = (".html", ".htm", ".xhtml")


class _Parts(Protocol):
    @property
    def trust(self) -> Trust: ...

    @property
    def state(self) -> DeviceState: ...


class DeviceAgent(Protocol):
    """What this module needs of ``agent.DeviceAgent``, which composes it."""

    store: DeviceStore
    reporter: Reporter

    @property
    def api(self) -> DeviceApi: ...

    @property
    def parts(self) -> _Parts: ...


@dataclass(frozen=True)
class AppliedBranding:
    """The branding a launch applies (None: unbranded), its revision, and why a held one was refused."""

    branding: Branding | None
    revision: int
    refused: str | None = None
    #: The logo's bytes, checked against the signed overlay (None: the branding names no logo).
    logo: bytes | None = None


def overlay_path(agent: DeviceAgent) -> Path:
    return agent.store.home / "branding.jws"


def logo_path(agent: DeviceAgent) -> Path:
    return agent.store.home / "branding-logo"


def held_revision(agent: DeviceAgent) -> int:
    """The revision of the overlay the sealed root holds (0: none)."""
    return int((agent.parts.state.read().get("branding") or {}).get("revision", 0))


def fetch_branding(agent: DeviceAgent) -> AppliedBranding:
    """Fetch, verify and keep the tenant's overlay (or forget it when the tenant is unbranded).

    A fetched overlay that does not verify, or is older than the one held, is not kept: a
    ``device.branding_refused`` signal is queued and the held one stays. Offline or refused by the
    API raises (``Offline``, ``ApiError``).
    """
    answer = agent.api.branding_overlay()
    token = answer.get("overlay")
    if token is None:
        _keep(agent, None, 0)
        return AppliedBranding(None, 0)
    try:
        branding, revision = _verify(agent, str(token))
    except UntrustedKey as untrusted:
        # A key rotation, not forgery: keep what is held until refresh-jwks.
        return AppliedBranding(None, held_revision(agent), refused=str(untrusted))
    except (TokenError, ValidationFailed) as error:
        detail = f"fetched branding overlay: {error}"
        agent.reporter.branding_refused(detail)
        return AppliedBranding(None, held_revision(agent), refused=detail)
    if revision < held_revision(agent):
        detail = f"fetched branding overlay: revision {revision} is older than the one held"
        agent.reporter.branding_refused(detail)
        return AppliedBranding(None, held_revision(agent), refused=detail)
    logo = None
    if branding.logo is not None:
        logo = agent.api.branding_logo(limit=branding.logo.size)
        try:
            branding.logo.check(logo)
        except ValidationFailed as error:
            detail = f"fetched branding logo: {error.detail}"
            agent.reporter.branding_refused(detail)
            return AppliedBranding(None, held_revision(agent), refused=detail)
    _keep(agent, str(token).encode("ascii"), revision, logo)
    return AppliedBranding(branding, revision, logo=logo)


def applied_branding(agent: DeviceAgent) -> AppliedBranding:
    """The held branding, checked again (works offline); refused means unbranded, and signalled."""
    sealed = agent.parts.state.read().get("branding") or {}
    revision, digest = int(sealed.get("revision", 0)), sealed.get("sha256")
    path = overlay_path(agent)
    if not revision and not path.exists():
        return AppliedBranding(None, 0)
    try:
        token = read_private(path)
        if not revision or hashlib.sha256(token).hexdigest() != digest:
            raise ValidationFailed("the overlay on disk is not the one this device kept")
        branding, signed_revision = _verify(agent, token.decode("ascii"))
        if signed_revision != revision:
            raise ValidationFailed("the overlay's revision is not the one this device kept")
    except (OSError, InsecureStateDir, UnicodeError, TokenError, ValidationFailed, UntrustedKey) as error:
        detail = f"stored branding overlay: {error}"
        agent.reporter.branding_refused(detail)
        return AppliedBranding(None, revision, refused=detail)
    if branding.logo is None:
        return AppliedBranding(branding, revision)
    try:
        # Never more than the signed size, never through a link or from a FIFO that would hang.
        logo = read_private(logo_path(agent), limit=branding.logo.size)
        branding.logo.check(logo)
    except (OSError, InsecureStateDir, ValidationFailed) as error:
        detail = f"stored branding logo: {error}"
        agent.reporter.branding_refused(detail)
        return AppliedBranding(None, revision, refused=detail)
    return AppliedBranding(branding, revision, logo=logo)


def brand_page(page: bytes, branding: Branding | None, logo: bytes | None = None) -> bytes:
    """The launch page with the branding's stylesheet and name injected (unchanged when unbranded).

    ``logo``, the checked bytes of the branding's logo, becomes ``--brand-logo`` as a ``data:`` URL.
    """
    if branding is None:
        return page
    logo_url = None if branding.logo is None or logo is None else branding.logo.data_url(logo)
    snippet = (
        f'<meta name="content-service-brand" content="{html.escape(branding.name, quote=True)}">'
        f'<style id="content-service-branding">{branding.stylesheet(logo_url)}</style>'
    ).encode()
    for pattern in (_HEAD, _DOCTYPE):
        if match := pattern.search(page):
            return page[: match.end()] + snippet + page[match.end() :]
    return snippet + page


def is_page(path: str) -> bool:
    return path.lower().endswith(_PAGES)


def _verify(agent: DeviceAgent, token: str) -> tuple[Branding, int]:
    return agent.parts.trust.branding(token)


def _keep(agent: DeviceAgent, token: bytes | None, revision: int, logo: bytes | None = None) -> None:
    """The logo and overlay files first, the sealed root second: a crash between leaves a refused
    file, never a sealed digest whose file is missing silently. The logo needs no seal of its own:
    the overlay names its SHA-256 and size, and the overlay is sealed."""
    path = overlay_path(agent)
    if token is None:
        path.unlink(missing_ok=True)
        logo_path(agent).unlink(missing_ok=True)
        agent.parts.state.update(lambda root: root.__setitem__("branding", {"revision": 0, "sha256": None}))
        return
    if logo is None:
        logo_path(agent).unlink(missing_ok=True)
    else:
        write_private(logo_path(agent), logo)
    write_private(path, token)
    digest = hashlib.sha256(token).hexdigest()
    agent.parts.state.update(
        lambda root: root.__setitem__("branding", {"revision": revision, "sha256": digest})
    )


def describe(applied: AppliedBranding) -> dict[str, Any]:
    """What ``content-service device branding`` prints."""
    return {
        "applied": applied.branding is not None,
        "revision": applied.revision,
        "branding": None if applied.branding is None else applied.branding.as_dict(),
        "refused": applied.refused,
    }
