"""Strict import and export of the two kinds of public JWK the service handles.

- ES256 verification keys (EC P-256), published in the JWKS with ``kid`` = RFC 7638 thumbprint.
- Device keys (OKP X25519, RFC 8037), enrolled by devices and used as JWE recipients.

joserfc does the JWK encoding and the thumbprint; this module only decides which JWKs are
acceptable, so that a private member, a wrong curve or a stray parameter is refused by type
instead of being carried along.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey

from content_service.domain.errors import PROBLEM_BASE, DomainError

ES256 = "ES256"
ECDH_ES_A256KW = "ECDH-ES+A256KW"

# Members a published verification key may carry. Anything else (above all "d") is refused.
_EC_PUBLIC_MEMBERS = frozenset({"kty", "crv", "x", "y", "kid", "alg", "use"})
_OKP_PUBLIC_MEMBERS = frozenset({"kty", "crv", "x", "kid", "alg", "use"})


class InvalidKey(DomainError):
    """A key or JWK is not of the kind this operation accepts (type, curve, private part, shape)."""

    problem_type = PROBLEM_BASE + "invalid-key"
    title = "The key is not acceptable"
    status = 422


def es256_public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """Return the public JWK of a P-256 key with ``kid`` (RFC 7638 thumbprint), ``alg`` and ``use``."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise InvalidKey("an ES256 key must be an EC P-256 public key")
    key = ECKey.import_key(public_key)
    jwk: dict[str, str] = {
        "kty": "EC",
        "crv": "P-256",
        "x": str(key["x"]),
        "y": str(key["y"]),
    }
    jwk["kid"] = ECKey.import_key(jwk).thumbprint()
    jwk["alg"] = ES256
    jwk["use"] = "sig"
    return jwk


def es256_public_jwk_from_der(spki_der: bytes) -> dict[str, str]:
    """Return the public JWK of a DER SubjectPublicKeyInfo (what KMS ``GetPublicKey`` returns)."""
    try:
        public_key = load_der_public_key(spki_der)
    except (ValueError, TypeError) as error:
        raise InvalidKey("the public key is not a DER SubjectPublicKeyInfo") from error
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise InvalidKey("an ES256 key must be an EC P-256 public key")
    return es256_public_jwk(public_key)


def import_es256_public_jwk(jwk: Mapping[str, Any]) -> ECKey:
    """Import a published verification key, refusing anything but a public P-256 JWK.

    A ``kid``, if present, must be the key's RFC 7638 thumbprint, so one kid always names one key.
    """
    if not isinstance(jwk, Mapping):
        raise InvalidKey("a JWK must be a JSON object")
    extra = set(jwk) - _EC_PUBLIC_MEMBERS
    if extra:
        raise InvalidKey(f"the verification JWK carries unexpected members: {sorted(extra)}")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise InvalidKey("a verification JWK must be kty EC, crv P-256")
    if jwk.get("alg", ES256) != ES256 or jwk.get("use", "sig") != "sig":
        raise InvalidKey("a verification JWK must be for alg ES256, use sig")
    try:
        key = ECKey.import_key({"kty": "EC", "crv": "P-256", "x": jwk.get("x"), "y": jwk.get("y")})
    except (JoseError, ValueError, TypeError) as error:
        raise InvalidKey("the verification JWK is not a valid P-256 point") from error
    thumbprint = key.thumbprint()
    if "kid" in jwk and jwk["kid"] != thumbprint:
        raise InvalidKey("the verification JWK's kid is not its RFC 7638 thumbprint")
    return ECKey.import_key(
        {"kty": "EC", "crv": "P-256", "x": key["x"], "y": key["y"]},
        {"kid": thumbprint, "alg": ES256, "use": "sig"},
    )


def import_x25519_public_jwk(jwk: Mapping[str, Any]) -> OKPKey:
    """Import a device's enrolled key, refusing anything but a public OKP X25519 JWK."""
    if not isinstance(jwk, Mapping):
        raise InvalidKey("a JWK must be a JSON object")
    if "d" in jwk:
        raise InvalidKey("the device JWK must be public only; it carries a private part")
    extra = set(jwk) - _OKP_PUBLIC_MEMBERS
    if extra:
        raise InvalidKey(f"the device JWK carries unexpected members: {sorted(extra)}")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "X25519":
        raise InvalidKey("a device JWK must be kty OKP, crv X25519")
    if jwk.get("alg", ECDH_ES_A256KW) != ECDH_ES_A256KW or jwk.get("use", "enc") != "enc":
        raise InvalidKey("a device JWK must be for alg ECDH-ES+A256KW, use enc")
    x = jwk.get("x")
    if not isinstance(x, str):
        raise InvalidKey("the device JWK has no x coordinate")
    try:
        key = OKPKey.import_key({"kty": "OKP", "crv": "X25519", "x": x})
        raw = key.public_key.public_bytes_raw()
    except (JoseError, ValueError, TypeError) as error:
        raise InvalidKey("the device JWK's x is not a 32-byte X25519 public key") from error
    if len(raw) != 32 or raw == bytes(32):
        raise InvalidKey("the device JWK's x is not a usable X25519 public key")
    return key
