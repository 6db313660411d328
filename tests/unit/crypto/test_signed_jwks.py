"""The key set devices refresh from: signed by every key of the ring, retired ones included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from content_service.crypto import KeyRing, LocalSigner, UnknownKey, verify
from content_service.crypto.signing import JWKS_TYPE

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_each_key_of_the_ring_signs_the_key_set_and_retired_keys_are_listed_not_published() -> None:
    current, old = LocalSigner.generate(), LocalSigner.generate()
    ring = KeyRing([current], retired=[old])
    document = ring.signed_jwks(NOW)
    assert [k["kid"] for k in document["keys"]] == [current.kid]
    assert document["retired"] == [old.kid]
    assert len(document["signatures"]) == 2
    # A device that trusts only the retired key still verifies the document, and learns the new key.
    claims = verify(document["signatures"][1], {"keys": [old.public_jwk()]}, typ=JWKS_TYPE)
    assert claims["keys"] == document["keys"] and claims["retired"] == [old.kid]
    assert claims["server_time"] == int(NOW.timestamp()) and claims["iss"] == "content-service"
    # The current key's signature means nothing to a device that does not trust that key yet.
    with pytest.raises(UnknownKey):
        verify(document["signatures"][0], {"keys": [old.public_jwk()]}, typ=JWKS_TYPE)


def test_the_signed_key_set_is_cached_for_a_while_then_signed_again() -> None:
    ring = KeyRing([LocalSigner.generate()])
    first = ring.signed_jwks(NOW)
    assert ring.signed_jwks(NOW + timedelta(minutes=1)) is first
    later = ring.signed_jwks(NOW + timedelta(minutes=10))
    assert later is not first
    claims = verify(later["signatures"][0], ring.jwks(), typ=JWKS_TYPE)
    assert claims["server_time"] == int((NOW + timedelta(minutes=10)).timestamp())
