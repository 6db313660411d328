"""Opaque list cursors that cannot cross tenants.

A cursor carries only the position inside the caller's own list; the partition is rebuilt
from the caller's tenant on the way back and the position must belong to it, so a forged or
replayed cursor can never read another tenant's items.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from content_service.domain.errors import ValidationFailed


def encode_cursor(last_evaluated_key: dict[str, Any], fields: tuple[str, ...]) -> str:
    position = {name: last_evaluated_key[name]["S"] for name in fields}
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, fields: tuple[str, ...], owner_prefix: str) -> dict[str, str]:
    """The position a cursor names, checked to lie under ``owner_prefix`` (the caller's tenant)."""
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        values = {name: position[name] for name in fields}
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise ValidationFailed("the cursor is not one this service issued") from error
    if not all(isinstance(v, str) for v in values.values()) or not values["pk"].startswith(owner_prefix):
        raise ValidationFailed("the cursor is not one this service issued")
    return values
