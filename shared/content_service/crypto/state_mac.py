"""Authenticated device state: a MAC key derived from the device key, and sealed JSON documents.

The device's offline rules depend on files its user can edit (the clock floor, the last signed
status, the sync cursor, revocation tombstones, the licence index). Each such document is sealed
with HMAC-SHA256 under a key derived with HKDF-SHA256 from the device's X25519 private key and a
label of its own, so the key is never used for anything but state, and a document sealed under one
label (say, the enrolment record) never opens as another (the state root).

A sealed document is JSON ``{"v": 1, "doc": <label>, "body": <object>, "mac": <base64url>}``; the
MAC covers the version, the label and the canonical JSON of the body.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from content_service.domain.errors import PROBLEM_BASE, DomainError

SEAL_VERSION = 1
#: The HKDF label of the device-state MAC key; no other key is derived under it.
STATE_KEY_LABEL = b"content-service/device-state-mac/v1"
STATE_KEY_BYTES = 32


class SealBroken(DomainError):
    """A sealed document does not parse, is another document, or fails its MAC."""

    problem_type = PROBLEM_BASE + "device-state-invalid"
    title = "The device state was altered"
    status = 422


def derive_state_key(private_key: X25519PrivateKey) -> bytes:
    """The MAC key of the device's state: HKDF-SHA256 over the raw private key, own label."""
    if not isinstance(private_key, X25519PrivateKey):
        raise TypeError("the device key must be an X25519 private key")
    return HKDF(algorithm=hashes.SHA256(), length=STATE_KEY_BYTES, salt=None, info=STATE_KEY_LABEL).derive(
        private_key.private_bytes_raw()
    )


def _canonical(body: Any) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def _mac_input(label: str, body: Any) -> bytes:
    return b"content-service-state\x00" + bytes([SEAL_VERSION]) + label.encode("utf-8") + b"\x00" + _canonical(body)


def _mac(key: bytes) -> hmac.HMAC:
    if len(key) != STATE_KEY_BYTES:
        raise ValueError("the state key must be 32 bytes")
    return hmac.HMAC(key, hashes.SHA256())


def seal(key: bytes, label: str, body: dict[str, Any]) -> bytes:
    """The sealed JSON document of ``body`` under ``label``."""
    mac = _mac(key)
    mac.update(_mac_input(label, body))
    tag = base64.urlsafe_b64encode(mac.finalize()).decode("ascii").rstrip("=")
    return json.dumps({"v": SEAL_VERSION, "doc": label, "body": body, "mac": tag}, indent=1, sort_keys=True).encode(
        "utf-8"
    )


def unseal(key: bytes, label: str, data: bytes) -> dict[str, Any]:
    """The body of a document sealed under ``label``, or ``SealBroken`` (the check is constant-time)."""
    try:
        document = json.loads(data)
        version, doc, body, tag = document["v"], document["doc"], document["body"], document["mac"]
        raw_tag = base64.urlsafe_b64decode(str(tag) + "=" * (-len(str(tag)) % 4))
    except (ValueError, TypeError, KeyError, UnicodeError) as error:
        raise SealBroken("the state document is not a sealed document") from error
    if version != SEAL_VERSION or doc != label or not isinstance(body, dict):
        raise SealBroken(f"the state document is not a version {SEAL_VERSION} {label!r} document")
    mac = _mac(key)
    mac.update(_mac_input(label, body))
    try:
        mac.verify(raw_tag)
    except InvalidSignature as error:
        raise SealBroken(f"the {label!r} document fails its MAC") from error
    return body
