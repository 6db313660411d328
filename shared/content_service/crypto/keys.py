"""Content keys: one random 256-bit key per package version, made and wrapped by KMS.

KMS ``GenerateDataKey`` returns the key in the clear (used once, to seal the container) and
wrapped under a KMS key; only the wrapped key is stored. The encryption context binds the
wrapped key to its tenant, package and version: KMS refuses to unwrap it under any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from content_service.domain.errors import PROBLEM_BASE, DomainError

CONTENT_KEY_BYTES = 32


class ContentKeyUnwrapFailed(DomainError):
    """KMS refused to unwrap: the wrapped key is altered, or belongs to another tenant/package/version."""

    problem_type = PROBLEM_BASE + "content-key-unwrap-failed"
    title = "The content key cannot be unwrapped"
    status = 422


class KmsDataKeyClient(Protocol):
    """The KMS calls ``ContentKeys`` makes (a boto3 KMS client satisfies it).

    ``exceptions`` is the client's modelled-error namespace (``client.exceptions`` in boto3), so
    refusals are caught by type without importing the AWS SDK here.
    """

    exceptions: Any

    def generate_data_key(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def decrypt(self, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class DataKey:
    """A fresh content key: ``plaintext`` to seal with (never stored), ``wrapped`` to store."""

    plaintext: bytes = field(repr=False)
    wrapped: bytes


def encryption_context(tenant_id: str, package_id: str, version: int) -> dict[str, str]:
    """The KMS encryption context of a package version's content key."""
    if not tenant_id or not package_id or not isinstance(tenant_id, str) or not isinstance(package_id, str):
        raise ValueError("tenant_id and package_id must be non-empty strings")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError("version must be a positive integer")
    return {"tenant_id": tenant_id, "package_id": package_id, "version": str(version)}


def lineage_context(tenant_id: str, package_id: str) -> dict[str, str]:
    """The KMS encryption context of a package's lineage key (container format version 2).

    It names no version: one lineage key serves every version of the package, so an unchanged
    file seals to the same object in each. ``purpose`` keeps it apart from any version's key.
    """
    if not tenant_id or not package_id or not isinstance(tenant_id, str) or not isinstance(package_id, str):
        raise ValueError("tenant_id and package_id must be non-empty strings")
    return {"tenant_id": tenant_id, "package_id": package_id, "purpose": "lineage"}


class ContentKeys:
    """Makes and unwraps content keys with a symmetric KMS key."""

    def __init__(self, kms_client: KmsDataKeyClient, key_id: str) -> None:
        self._client = kms_client
        self._key_id = key_id

    def generate(self, tenant_id: str, package_id: str, version: int) -> DataKey:
        """A new 256-bit content key for this package version, and its wrapped form."""
        response = self._client.generate_data_key(
            KeyId=self._key_id,
            KeySpec="AES_256",
            EncryptionContext=encryption_context(tenant_id, package_id, version),
        )
        plaintext = bytes(response["Plaintext"])
        if len(plaintext) != CONTENT_KEY_BYTES:
            raise ContentKeyUnwrapFailed("KMS returned a data key of the wrong size", size=len(plaintext))
        return DataKey(plaintext=plaintext, wrapped=bytes(response["CiphertextBlob"]))

    def generate_lineage(self, tenant_id: str, package_id: str) -> DataKey:
        """A new 256-bit lineage key for a package (its first version 2 build), and its wrapped form."""
        response = self._client.generate_data_key(
            KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=lineage_context(tenant_id, package_id)
        )
        plaintext = bytes(response["Plaintext"])
        if len(plaintext) != CONTENT_KEY_BYTES:
            raise ContentKeyUnwrapFailed("KMS returned a data key of the wrong size", size=len(plaintext))
        return DataKey(plaintext=plaintext, wrapped=bytes(response["CiphertextBlob"]))

    def unwrap_lineage(self, wrapped: bytes, tenant_id: str, package_id: str) -> bytes:
        """The lineage key of a package; ``ContentKeyUnwrapFailed`` if KMS refuses."""
        return self._decrypt(wrapped, lineage_context(tenant_id, package_id), package_id, None)

    def unwrap(self, wrapped: bytes, tenant_id: str, package_id: str, version: int) -> bytes:
        """The content key of this package version; ``ContentKeyUnwrapFailed`` if KMS refuses."""
        return self._decrypt(wrapped, encryption_context(tenant_id, package_id, version), package_id, version)

    def _decrypt(self, wrapped: bytes, context: dict[str, str], package_id: str, version: int | None) -> bytes:
        refusals = tuple(
            getattr(self._client.exceptions, name)
            for name in ("InvalidCiphertextException", "IncorrectKeyException")
            if hasattr(self._client.exceptions, name)
        )
        try:
            # KeyId pins the KMS key: a blob wrapped under any other key is refused, not tried.
            response = self._client.decrypt(
                CiphertextBlob=wrapped, EncryptionContext=context, KeyId=self._key_id
            )
        except refusals as error:
            raise ContentKeyUnwrapFailed(
                "KMS refused to unwrap the content key for this tenant, package and version",
                package_id=package_id,
                version=version,
            ) from error
        plaintext = bytes(response["Plaintext"])
        if len(plaintext) != CONTENT_KEY_BYTES:
            raise ContentKeyUnwrapFailed("the unwrapped content key has the wrong size", size=len(plaintext))
        return plaintext
