"""Opaque, tamper-evident cursors (lists, and devices' sync feeds) that cannot cross tenants.

A cursor carries only the position inside the caller's own list, sealed with Fernet (from
``cryptography``: AES-CBC for secrecy, HMAC-SHA256 over everything, a version byte first), so a
client can neither read the table keys in it nor change a byte without the service noticing: a
tampered, truncated or foreign cursor is a 422. The partition is also rebuilt from the caller's
tenant on the way back and the position must belong to it, so even a cursor sealed for another
tenant reads nothing of theirs. We use Fernet rather than our own HMAC framing because it is the
well-kept, versioned authenticated format the library already ships.

The key is the API's cursor secret (Secrets Manager on AWS, ``CURSOR_KEY_SECRET_ARN``); where no
secret is configured (unit tests, a bare process) a random key is made once per process, so
cursors then live as long as the process does.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from content_service.domain.errors import ValidationFailed

NOT_OURS = "the cursor is not one this service issued"


def fernet_for(secret: str) -> Fernet:
    """The Fernet of a cursor secret (any length: it is hashed to the 32 bytes Fernet needs)."""
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(("cursor-v1:" + secret).encode()).digest()))


def _process_fernet() -> Fernet:
    from content_service.bootstrap import dependencies  # noqa: PLC0415 - bootstrap imports the adapters

    return dependencies().cursor_fernet


def seal_position(position: dict[str, Any], fernet: Fernet | None = None) -> str:
    """A position sealed into an opaque cursor (URL-safe, no padding)."""
    sealed = (fernet or _process_fernet()).encrypt(json.dumps(position, separators=(",", ":")).encode())
    return sealed.decode().rstrip("=")


def open_position(cursor: str, fernet: Fernet | None = None) -> dict[str, Any]:
    """The position a cursor this service sealed holds; ValidationFailed for anything else."""
    try:
        token = (cursor + "=" * (-len(cursor) % 4)).encode("ascii")
        position = json.loads((fernet or _process_fernet()).decrypt(token))
    except (InvalidToken, UnicodeEncodeError, ValueError, TypeError) as error:
        raise ValidationFailed(NOT_OURS) from error
    if not isinstance(position, dict):
        raise ValidationFailed(NOT_OURS)
    return position


class FernetCursorSeal:
    """The :class:`~content_service.service.ports.CursorSeal` of the service's cursor key."""

    def __init__(self, fernet: Fernet | None = None) -> None:
        self._fernet = fernet

    def seal(self, position: dict[str, Any]) -> str:
        return seal_position(position, self._fernet)

    def open(self, cursor: str) -> dict[str, Any]:
        return open_position(cursor, self._fernet)


def encode_cursor(last_evaluated_key: dict[str, Any], fields: tuple[str, ...], fernet: Fernet | None = None) -> str:
    return seal_position({name: last_evaluated_key[name]["S"] for name in fields}, fernet)


def decode_cursor(
    cursor: str, fields: tuple[str, ...], owner_prefix: str, fernet: Fernet | None = None
) -> dict[str, str]:
    """The position a cursor names, checked to lie under ``owner_prefix`` (the caller's tenant)."""
    position = open_position(cursor, fernet)
    try:
        values = {name: position[name] for name in fields}
    except KeyError as error:
        raise ValidationFailed(NOT_OURS) from error
    if not all(isinstance(v, str) for v in values.values()) or not values["pk"].startswith(owner_prefix):
        raise ValidationFailed(NOT_OURS)
    return values
