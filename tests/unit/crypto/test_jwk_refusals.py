"""Every refusal of the two JWK importers says what is wrong with the key, in its own words.

These words reach the caller (the enrolment and JWKS problems' ``detail``), so each is checked
whole: a refusal that gives the wrong reason is a bug a user sees.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, x25519

from content_service.crypto.jwk import (
    InvalidKey,
    es256_public_jwk,
    import_es256_public_jwk,
    import_x25519_public_jwk,
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _device_jwk(**changes: Any) -> dict[str, Any]:
    raw = x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()
    jwk: dict[str, Any] = {
        "kty": "OKP",
        "crv": "X25519",
        "x": _b64(raw),
        "alg": "ECDH-ES+A256KW",
        "use": "enc",
    }
    jwk.update(changes)
    return {name: value for name, value in jwk.items() if value is not None}


def _verification_jwk(**changes: Any) -> dict[str, Any]:
    jwk: dict[str, Any] = es256_public_jwk(ec.generate_private_key(ec.SECP256R1()).public_key())
    jwk.update(changes)
    return {name: value for name, value in jwk.items() if value is not None}


def _refusal(importer: Any, jwk: object) -> str:
    with pytest.raises(InvalidKey) as raised:
        importer(jwk)
    return str(raised.value)


@pytest.mark.parametrize(
    ("jwk", "message"),
    [
        (["not", "an", "object"], "a JWK must be a JSON object"),
        (_device_jwk(d=_b64(bytes(32))), "the device JWK must be public only; it carries a private part"),
        (_device_jwk(ext=True), "the device JWK carries unexpected members: ['ext']"),
        (_device_jwk(kty="EC"), "a device JWK must be kty OKP, crv X25519"),
        (_device_jwk(crv="Ed25519"), "a device JWK must be kty OKP, crv X25519"),
        (_device_jwk(alg="RSA-OAEP"), "a device JWK must be for alg ECDH-ES+A256KW, use enc"),
        (_device_jwk(use="sig"), "a device JWK must be for alg ECDH-ES+A256KW, use enc"),
        (_device_jwk(x=None), "the device JWK has no x coordinate"),
        (_device_jwk(x=12), "the device JWK has no x coordinate"),
        (_device_jwk(x=_b64(b"short")), "the device JWK's x is not a 32-byte X25519 public key"),
        (_device_jwk(x=_b64(bytes(32))), "the device JWK's x is not a usable X25519 public key"),
    ],
    ids=[
        "not-an-object",
        "private-part",
        "extra-member",
        "wrong-kty",
        "wrong-crv",
        "wrong-alg",
        "wrong-use",
        "no-x",
        "x-not-a-string",
        "x-too-short",
        "x-all-zero",
    ],
)
def test_a_device_jwk_is_refused_with_its_reason(jwk: object, message: str) -> None:
    assert _refusal(import_x25519_public_jwk, jwk) == message


def test_a_device_jwk_with_only_the_required_members_is_accepted() -> None:
    jwk = _device_jwk(alg=None, use=None)
    assert import_x25519_public_jwk(jwk).as_dict()["x"] == jwk["x"]


@pytest.mark.parametrize(
    ("jwk", "message"),
    [
        ("kty=EC", "a JWK must be a JSON object"),
        (_verification_jwk(d="AAAA"), "the verification JWK carries unexpected members: ['d']"),
        (_verification_jwk(kty="OKP"), "a verification JWK must be kty EC, crv P-256"),
        (_verification_jwk(crv="P-384"), "a verification JWK must be kty EC, crv P-256"),
        (_verification_jwk(alg="ES384"), "a verification JWK must be for alg ES256, use sig"),
        (_verification_jwk(use="enc"), "a verification JWK must be for alg ES256, use sig"),
        (_verification_jwk(y=None), "the verification JWK is not a valid P-256 point"),
        (_verification_jwk(x=_b64(bytes(32))), "the verification JWK is not a valid P-256 point"),
        (_verification_jwk(kid="someone-else"), "the verification JWK's kid is not its RFC 7638 thumbprint"),
    ],
    ids=[
        "not-an-object",
        "private-part",
        "wrong-kty",
        "wrong-crv",
        "wrong-alg",
        "wrong-use",
        "no-y",
        "off-curve",
        "kid",
    ],
)
def test_a_verification_jwk_is_refused_with_its_reason(jwk: object, message: str) -> None:
    assert _refusal(import_es256_public_jwk, jwk) == message


def test_an_imported_verification_key_carries_its_thumbprint_alg_and_use() -> None:
    jwk = _verification_jwk(kid=None, alg=None, use=None)
    key = import_es256_public_jwk(jwk)
    assert (key.kid, key.get("alg"), key.get("use")) == (_verification_jwk_thumbprint(jwk), "ES256", "sig")


def _verification_jwk_thumbprint(jwk: dict[str, Any]) -> str:
    from joserfc.jwk import ECKey

    thumbprint = ECKey.import_key({name: jwk[name] for name in ("kty", "crv", "x", "y")}).thumbprint()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", thumbprint)
    return thumbprint
