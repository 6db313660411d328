"""A device's X25519 key is refused at enrolment when it is weak, whichever check catches it."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from content_service.crypto import device_keys
from content_service.crypto.device_keys import (
    SMALL_ORDER_ENCODINGS,
    WeakDeviceKey,
    enrollable_device_key,
    require_usable_x25519_key,
)
from content_service.crypto.jwk import InvalidKey

_P = 2**255 - 19


def _jwk(raw: bytes) -> dict[str, str]:
    return {"kty": "OKP", "crv": "X25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}


def test_a_fresh_key_is_usable_and_its_thumbprint_is_stable() -> None:
    raw = X25519PrivateKey.generate().public_key().public_bytes_raw()
    require_usable_x25519_key(raw)
    assert enrollable_device_key(_jwk(raw)) == enrollable_device_key(_jwk(raw))
    assert len(enrollable_device_key(_jwk(raw))) == 43


@pytest.mark.parametrize("length", [0, 31, 33])
def test_a_key_of_the_wrong_length_is_refused(length: int) -> None:
    with pytest.raises(WeakDeviceKey, match="32 bytes"):
        require_usable_x25519_key(b"\x09" * length)


@pytest.mark.parametrize(
    "raw",
    [
        (_P).to_bytes(32, "little"),
        (_P + 5).to_bytes(32, "little"),
        (9 | 1 << 255).to_bytes(32, "little"),  # a canonical u with the top bit set
    ],
    ids=["p", "p+5", "top-bit"],
)
def test_a_non_canonical_encoding_is_refused(raw: bytes) -> None:
    with pytest.raises(WeakDeviceKey, match="not canonically encoded"):
        require_usable_x25519_key(raw)


@pytest.mark.parametrize("raw", [e for e in SMALL_ORDER_ENCODINGS if int.from_bytes(e, "little") < _P])
def test_every_canonical_small_order_point_is_refused_by_the_blocklist(raw: bytes) -> None:
    with pytest.raises(WeakDeviceKey, match="small order"):
        require_usable_x25519_key(raw)


def test_the_exchange_check_refuses_a_small_order_point_the_blocklist_misses(monkeypatch) -> None:
    """The second, independent check: OpenSSL's refusal of the exchange is a WeakDeviceKey too."""
    monkeypatch.setattr(device_keys, "SMALL_ORDER_ENCODINGS", ())
    with pytest.raises(WeakDeviceKey, match="no shared secret|all-zero"):
        require_usable_x25519_key(bytes(32))


def test_an_all_zero_shared_secret_is_refused(monkeypatch) -> None:
    class ZeroExchange:
        @staticmethod
        def generate() -> ZeroExchange:
            return ZeroExchange()

        def exchange(self, _peer: object) -> bytes:
            return bytes(32)

    monkeypatch.setattr(device_keys, "X25519PrivateKey", ZeroExchange)
    raw = X25519PrivateKey.generate().public_key().public_bytes_raw()
    with pytest.raises(WeakDeviceKey, match="all-zero shared secret"):
        require_usable_x25519_key(raw)


def test_a_weak_key_in_a_jwk_is_refused_and_a_non_x25519_jwk_is_an_invalid_key() -> None:
    weak = next(e for e in SMALL_ORDER_ENCODINGS if any(e) and int.from_bytes(e, "little") < _P)
    with pytest.raises(WeakDeviceKey):
        enrollable_device_key(_jwk(weak))
    assert issubclass(WeakDeviceKey, InvalidKey)
    with pytest.raises(InvalidKey):
        enrollable_device_key({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"})
