"""Checks on a device's X25519 public key before it is enrolled, and the key's identity.

A licence carries the bundle's content keys wrapped to the device key with ECDH-ES. If the
"public key" is a point of small order (or zero), every ECDH shared secret with it is one of a
handful of values that anyone can compute, so the wrapped content keys would be readable by
anyone holding the licence; with OpenSSL the wrap would fail outright at licence time. Such keys
are refused at enrolment (422), by two independent checks:

- the encoding is one of the small-order points libsodium blocks (``has_small_order`` in
  ``crypto_scalarmult/curve25519/ref10/x25519_ref10.c``);
- an X25519 exchange with a fresh ephemeral private key fails or yields all zeros (RFC 7748 §6.1:
  "check whether the shared secret is the all-zero value and abort if so").

Only canonical encodings are accepted (u below p = 2^255 - 19, top bit clear, as RFC 7748's
``encodeUCoordinate`` writes them). X25519 would quietly reduce the others to the same key, but
the enrolment thumbprint is taken over the encoding, and one key must have one thumbprint for
"the same key cannot be enrolled twice" to hold.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from content_service.crypto.jwk import InvalidKey, import_x25519_public_jwk

_P = 2**255 - 19


def _le(value: int) -> bytes:
    return value.to_bytes(32, "little")


SMALL_ORDER_ENCODINGS: tuple[bytes, ...] = (
    _le(0),  # order 4
    _le(1),  # order 1
    _le(325606250916557431795983626356110631294008115727848805560023387167927233504),  # order 8
    _le(39382357235489614581723060781553021112529911719440698176882885853963445705823),  # order 8
    _le(_P - 1),  # order 2
    _le(_P),  # p, that is 0 again
    _le(_P + 1),  # p + 1, that is 1 again
)
"""libsodium's blocklist of X25519 public keys of small order, as 32-byte little-endian u."""


class WeakDeviceKey(InvalidKey):
    """The X25519 public key is of small order, zero, or not canonically encoded."""

    title = "The device key is not a usable X25519 public key"


def require_usable_x25519_key(raw: bytes) -> None:
    """Refuse (WeakDeviceKey) a 32-byte X25519 public key that is non-canonical or of small order."""
    if len(raw) != 32:
        raise WeakDeviceKey("an X25519 public key is 32 bytes")
    # libsodium compares with the top bit masked; a set top bit is already refused as non-canonical.
    if raw[31] & 0x80 or int.from_bytes(raw, "little") >= _P:
        raise WeakDeviceKey("the X25519 public key is not canonically encoded (u must be below 2^255 - 19)")
    if any(hmac.compare_digest(raw, blocked) for blocked in SMALL_ORDER_ENCODINGS):
        raise WeakDeviceKey("the X25519 public key is a point of small order")
    try:
        shared = X25519PrivateKey.generate().exchange(X25519PublicKey.from_public_bytes(raw))
    except ValueError as error:
        # OpenSSL refuses an all-zero result itself; either way the point is of small order.
        raise WeakDeviceKey("the X25519 public key gives no shared secret (small order)") from error
    if not any(shared):
        raise WeakDeviceKey("the X25519 public key gives an all-zero shared secret (small order)")


def enrollable_device_key(jwk: Mapping[str, Any]) -> str:
    """Check a device's public JWK for enrolment and return its RFC 7638 thumbprint (its identity).

    Raises InvalidKey for a JWK that is not a public X25519 key, WeakDeviceKey for a weak one.
    """
    key = import_x25519_public_jwk(jwk)
    require_usable_x25519_key(key.public_key.public_bytes_raw())
    return key.thumbprint()
