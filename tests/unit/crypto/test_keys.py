"""Content keys: the KMS requests ContentKeys makes, and how it reports a refusal (fake KMS; moto in integration)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from content_service.crypto.keys import ContentKeys, ContentKeyUnwrapFailed, DataKey, encryption_context


class FakeKmsErrors:
    class InvalidCiphertextException(Exception):
        pass

    class IncorrectKeyException(Exception):
        pass


class FakeKms:
    """Remembers data keys under random blobs and refuses a Decrypt whose context or key differs, as KMS does."""

    exceptions = FakeKmsErrors

    def __init__(self, data_key_size: int = 32) -> None:
        self.blobs: dict[bytes, tuple[bytes, str, dict[str, str]]] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.data_key_size = data_key_size

    def generate_data_key(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(("GenerateDataKey", kwargs))
        plaintext, blob = os.urandom(self.data_key_size), os.urandom(48)
        self.blobs[blob] = (plaintext, kwargs["KeyId"], dict(kwargs["EncryptionContext"]))
        return {"Plaintext": plaintext, "CiphertextBlob": blob, "KeyId": kwargs["KeyId"]}

    def decrypt(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(("Decrypt", kwargs))
        if kwargs["CiphertextBlob"] not in self.blobs:
            raise self.exceptions.InvalidCiphertextException()
        plaintext, key_id, context = self.blobs[kwargs["CiphertextBlob"]]
        if kwargs.get("KeyId") != key_id:
            raise self.exceptions.IncorrectKeyException()
        if kwargs.get("EncryptionContext", {}) != context:
            raise self.exceptions.InvalidCiphertextException()
        return {"Plaintext": plaintext, "KeyId": key_id}


def test_a_content_key_is_a_256_bit_data_key_bound_to_tenant_package_and_version():
    kms = FakeKms()

    key = ContentKeys(kms, "alias/content").generate("t1", "pkg_1", 3)

    assert len(key.plaintext) == 32
    name, request = kms.requests[0]
    assert name == "GenerateDataKey"
    assert request == {
        "KeyId": "alias/content",
        "KeySpec": "AES_256",
        "EncryptionContext": {"tenant_id": "t1", "package_id": "pkg_1", "version": "3"},
    }


def test_the_wrapped_key_unwraps_with_the_same_context_and_the_key_pinned():
    kms = FakeKms()
    keys = ContentKeys(kms, "alias/content")
    key = keys.generate("t1", "pkg_1", 3)

    assert keys.unwrap(key.wrapped, "t1", "pkg_1", 3) == key.plaintext
    assert kms.requests[-1][1]["KeyId"] == "alias/content"


@pytest.mark.parametrize(
    ("tenant", "package", "version"), [("t2", "pkg_1", 3), ("t1", "pkg_2", 3), ("t1", "pkg_1", 4)]
)
def test_another_tenant_package_or_version_cannot_unwrap(tenant, package, version):
    keys = ContentKeys(FakeKms(), "alias/content")
    key = keys.generate("t1", "pkg_1", 3)

    with pytest.raises(ContentKeyUnwrapFailed):
        keys.unwrap(key.wrapped, tenant, package, version)


def test_a_key_wrapped_under_another_kms_key_is_refused():
    kms = FakeKms()
    key = ContentKeys(kms, "alias/other").generate("t1", "pkg_1", 3)

    with pytest.raises(ContentKeyUnwrapFailed):
        ContentKeys(kms, "alias/content").unwrap(key.wrapped, "t1", "pkg_1", 3)


def test_an_unknown_blob_is_refused():
    with pytest.raises(ContentKeyUnwrapFailed):
        ContentKeys(FakeKms(), "alias/content").unwrap(b"\x00" * 48, "t1", "pkg_1", 3)


def test_a_data_key_of_the_wrong_size_is_refused():
    with pytest.raises(ContentKeyUnwrapFailed):
        ContentKeys(FakeKms(data_key_size=16), "k").generate("t1", "pkg_1", 1)


def test_the_plaintext_key_never_appears_in_a_repr():
    key = DataKey(plaintext=b"\x01" * 32, wrapped=b"blob")

    assert "plaintext" not in repr(key)
    assert repr(b"\x01" * 32) not in repr(key)


@pytest.mark.parametrize(
    ("tenant", "package", "version"),
    [("", "pkg", 1), ("t", "", 1), ("t", "pkg", 0), ("t", "pkg", -1), ("t", "pkg", True), ("t", "pkg", "1")],
)
def test_an_ill_formed_context_is_a_programming_error(tenant, package, version):
    with pytest.raises(ValueError):
        encryption_context(tenant, package, version)


def test_a_lineage_key_is_bound_to_tenant_and_package_and_never_unwraps_as_a_version_key():
    kms = FakeKms()
    keys = ContentKeys(kms, "alias/content")
    lineage = keys.generate_lineage("t1", "pkg_1")

    assert kms.requests[0][1]["EncryptionContext"] == {"tenant_id": "t1", "package_id": "pkg_1", "purpose": "lineage"}
    assert keys.unwrap_lineage(lineage.wrapped, "t1", "pkg_1") == lineage.plaintext
    with pytest.raises(ContentKeyUnwrapFailed):
        keys.unwrap_lineage(lineage.wrapped, "t1", "pkg_2")
    with pytest.raises(ContentKeyUnwrapFailed):
        keys.unwrap(lineage.wrapped, "t1", "pkg_1", 1)
    version_key = keys.generate("t1", "pkg_1", 1)
    with pytest.raises(ContentKeyUnwrapFailed):
        keys.unwrap_lineage(version_key.wrapped, "t1", "pkg_1")
