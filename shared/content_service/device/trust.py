"""What the device believes: tokens verified against the pinned keys, claims held to the enrolment.

Every token the device acts on (bundle manifest, licence, sync status, key set) is an ES256 JWS
checked here against the keys pinned in the sealed enrolment record, and its claims are checked
against that enrolment: the issuer, the tenant, the user and the device must be this device's.
This module only decides; reporting (tamper reports, signals) is the caller's.

Key lifecycle: the key set is taken only through a signature by a key the device already
trusts; it carries the retired kids, which are dropped and never trusted again; a key set older
(by its signed ``server_time``) than the newest one taken is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from content_service.crypto import InvalidKey, TokenError, UnknownKey, verify
from content_service.crypto.jwk import import_es256_public_jwk
from content_service.crypto.overlay import verify_branding
from content_service.device.errors import DeviceError, StatusForged
from content_service.device.store import DeviceRecord
from content_service.domain.licence import LicenceWrongDevice
from content_service.domain.tenant import Branding

MANIFEST_TYPE = "bundle-manifest+jwt"
LICENCE_TYPE = "license+jwt"
STATUS_TYPE = "device-status+jwt"
JWKS_TYPE = "jwk-set+jwt"


class UntrustedKey(DeviceError):
    """The token is signed by a key this device does not (or no longer) trust: a rotation, not tampering."""

    title = "The token is signed by a key this device does not trust"
    status = 409


class ClaimsRefused(TokenError):
    """The token verifies, but names another issuer, tenant, user or bundle than this device's."""

    title = "The token is not for this device"


@dataclass(frozen=True)
class KeySetChange:
    """What taking a key set changed."""

    record: DeviceRecord
    added: list[str]
    dropped: list[str]


class Trust:
    """Verification against the enrolment record ``record()`` returns (read when needed)."""

    def __init__(
        self, record: Callable[[], DeviceRecord], *, observe: Callable[[float], None] | None = None
    ) -> None:
        self._record = record
        # Every verified token's signed time (``server_time`` or ``iat``) is handed to ``observe``
        # (the clock): a genuine signature at T means now is at least T, replayed or not.
        self._observe = observe or (lambda _: None)

    def _verify(self, token: str, typ: str) -> dict[str, Any]:
        try:
            claims = verify(token, self._record().jwks, typ=typ)
        except UnknownKey as error:
            raise UntrustedKey(
                f"the {typ} token is signed by a key this device does not trust; run refresh-jwks "
                "if the service rotated keys, or fetch the bundle again"
            ) from error
        self._seen(claims)
        return claims

    def _seen(self, claims: Mapping[str, Any]) -> None:
        signed = claims.get("server_time", claims.get("iat"))
        if isinstance(signed, int | float) and not isinstance(signed, bool) and signed > 0:
            self._observe(float(signed))

    def _check_issuer(self, claims: Mapping[str, Any], what: str) -> None:
        record = self._record()
        if claims.get("iss") != record.issuer:
            raise ClaimsRefused(f"the {what} names issuer {claims.get('iss')!r}, not {record.issuer!r}")
        if record.tenant_id and claims.get("tenant_id") != record.tenant_id:
            raise ClaimsRefused(f"the {what} is for another tenant than this device's")

    def manifest(self, bundle_id: str, token: bytes) -> dict[str, Any]:
        """The claims of a bundle manifest for ``bundle_id`` of this device's tenant."""
        try:
            text = token.decode("ascii")
        except UnicodeError as error:
            raise ClaimsRefused("the manifest is not a compact JWS") from error
        claims = self._verify(text, MANIFEST_TYPE)
        self._check_issuer(claims, "manifest")
        if claims.get("bundle_id") != bundle_id or not isinstance(claims.get("packages"), list):
            raise ClaimsRefused("the manifest is for another bundle or lists no packages")
        return claims

    def assistant_overlay(self, bundle_id: str, package_id: str, token: str, typ: str) -> dict[str, Any]:
        """The claims of an assistant overlay for ``package_id`` of ``bundle_id`` of this device's tenant.

        Held to the enrolment like a manifest (issuer, tenant), so an overlay the service signed
        for another tenant, another bundle or another package is refused here, not applied.
        """
        claims = self._verify(token, typ)
        self._check_issuer(claims, "assistant overlay")
        if claims.get("bundle_id") != bundle_id or claims.get("package_id") != package_id:
            raise ClaimsRefused("the assistant overlay is for another bundle or package")
        return claims

    def branding(self, token: str) -> tuple[Branding, int]:
        """The branding of a branding overlay of this device's tenant and issuer, and its revision.

        ``crypto.overlay.verify_branding`` checks the signature against the pinned keys, the
        tenant, the issuer and every branding rule again; an unknown key is ``UntrustedKey``.
        """
        record = self._record()
        try:
            return verify_branding(token, record.jwks, record.tenant_id, issuer=record.issuer)
        except UnknownKey as error:
            raise UntrustedKey("the branding overlay is signed by a key this device does not trust") from error

    def licence(self, bundle_id: str, token: str) -> dict[str, Any]:
        """The claims of a licence of ``bundle_id`` for this device, user and tenant.

        Another device's licence raises ``LicenceWrongDevice`` (it is not tampering; it simply
        does not open here); anything else that does not match raises ``ClaimsRefused``.
        """
        claims = self._verify(token, LICENCE_TYPE)
        self._check_issuer(claims, "licence")
        record = self._record()
        if claims.get("bundle_id") != bundle_id:
            raise ClaimsRefused("the licence is for another bundle")
        if claims.get("sub") != record.user_id:
            raise ClaimsRefused("the licence is for another user")
        if claims.get("device_id") != record.device_id:
            raise LicenceWrongDevice("the licence was issued to another device")
        if not isinstance(claims.get("server_time"), int | float) or isinstance(
            claims.get("server_time"), bool
        ):
            raise ClaimsRefused("the licence carries no server time")
        return claims

    def status(self, token: Any, *, nonce: str, newest: int) -> dict[str, Any]:
        """The claims of a status answering ``nonce``, no older than ``newest``; else ``StatusForged``.

        An unknown key is a rotation (``UntrustedKey``), not forgery.
        """
        try:
            claims = self._verify(str(token), STATUS_TYPE)
        except TokenError as error:
            raise StatusForged(f"the sync status does not verify: {error}", document="status") from error
        record = self._record()
        server_time = claims.get("server_time")
        if (
            claims.get("iss") != record.issuer
            or claims.get("ver") != 1
            or claims.get("device_id") != record.device_id
            or claims.get("sub") != record.user_id
            or (record.tenant_id and claims.get("tenant_id") != record.tenant_id)
            or not isinstance(server_time, int)
            or isinstance(server_time, bool)
            or not isinstance(claims.get("revoked_bundles", []), list)
        ):
            raise StatusForged("the sync status is not a version 1 status of this device", document="status")
        if claims.get("nonce") != nonce:
            raise StatusForged("the sync status does not answer this request (replayed)", document="status")
        if server_time < newest:
            raise StatusForged(
                f"the sync status is older ({server_time}) than the newest one seen ({newest})",
                document="status",
            )
        return claims

    def take_key_set(self, document: Any) -> KeySetChange:
        """The record with the pinned keys a signed key set gives; ``StatusForged`` if it cannot be trusted."""
        record = self._record()
        claims = _signed_key_set(document, record.jwks)
        self._seen(claims)
        server_time = claims.get("server_time")
        if claims.get("iss") != record.issuer or claims.get("ver") != 1 or not isinstance(server_time, int):
            raise StatusForged("the key set is not a version 1 key set of this issuer", document="jwks")
        if server_time < record.jwks_time:
            raise StatusForged(
                f"the key set is older ({server_time}) than the one this device holds ({record.jwks_time})",
                document="jwks",
            )
        retired = sorted({str(k) for k in claims.get("retired", []) or []} | set(record.retired_kids))
        keys = [key for key in _usable_keys(claims.get("keys")) if key["kid"] not in retired]
        if not keys:
            raise StatusForged("the key set leaves this device no usable key", document="jwks")
        before = {key["kid"] for key in record.jwks.get("keys", [])}
        after = {key["kid"] for key in keys}
        updated = replace(record, jwks={"keys": keys}, retired_kids=retired, jwks_time=server_time)
        return KeySetChange(updated, sorted(after - before), sorted(before - after))


def first_key_set(document: Any) -> tuple[dict[str, Any], list[str], int]:
    """The keys to pin at enrolment: the set must be signed by one of its own keys.

    Enrolment is trust on first use (over the authenticated API call); this only refuses a set
    that is not even consistent with itself. Returns (jwks, retired kids, server_time).
    """
    keys = _usable_keys(document.get("keys") if isinstance(document, Mapping) else None)
    if not keys:
        raise DeviceError("the service's JWKS holds no usable key")
    claims = _signed_key_set(document, {"keys": keys})
    retired = sorted(str(k) for k in claims.get("retired", []) or [])
    pinned = [key for key in _usable_keys(claims.get("keys")) if key["kid"] not in retired]
    if not pinned:
        raise DeviceError("the service's JWKS holds no usable key")
    return {"keys": pinned}, retired, int(claims.get("server_time", 0))


def _signed_key_set(document: Any, jwks: Mapping[str, Any]) -> dict[str, Any]:
    signatures = document.get("signatures") if isinstance(document, Mapping) else None
    if not isinstance(signatures, list) or not signatures:
        raise StatusForged("the key set carries no signature", document="jwks")
    failures = []
    for signature in signatures:
        try:
            return verify(str(signature), jwks, typ=JWKS_TYPE)
        except TokenError as error:
            failures.append(type(error).__name__)
    raise StatusForged(
        f"no signature of the key set verifies with a key this device trusts ({', '.join(failures)})",
        document="jwks",
    )


def _usable_keys(keys: Any) -> list[dict[str, Any]]:
    usable = []
    for key in keys if isinstance(keys, list) else []:
        try:
            imported = import_es256_public_jwk(key)
        except InvalidKey:
            continue
        usable.append({k: str(imported[k]) for k in ("kty", "crv", "x", "y", "kid", "alg", "use")})
    return usable
