"""Content cryptography: the streaming-AEAD content container (and, later, signing and licences).

This package is the only place in the service that imports ``cryptography.hazmat``.
"""

from content_service.crypto.container import ContainerSummary, ContainerWriter, seal
from content_service.crypto.errors import (
    ContainerError,
    ContainerKeyMismatch,
    ContainerPathNotFound,
    ContainerTampered,
    ContainerTruncated,
    InvalidContainerInput,
    UnsupportedVersion,
)
from content_service.crypto.header import DEFAULT_SEGMENT_SIZE, FORMAT_VERSION
from content_service.crypto.index import IndexEntry
from content_service.crypto.reader import ContainerFile, ContainerReader
from content_service.crypto.segments import RangeRead

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "FORMAT_VERSION",
    "ContainerError",
    "ContainerFile",
    "ContainerKeyMismatch",
    "ContainerPathNotFound",
    "ContainerReader",
    "ContainerSummary",
    "ContainerTampered",
    "ContainerTruncated",
    "ContainerWriter",
    "IndexEntry",
    "InvalidContainerInput",
    "RangeRead",
    "UnsupportedVersion",
    "seal",
]

# Signing, content keys and licence key wrapping (issue 3, items 2 and 5). Appended after the
# container exports so the two blocks can be maintained independently.
from content_service.crypto.jwk import InvalidKey, es256_public_jwk, import_x25519_public_jwk  # noqa: E402
from content_service.crypto.keys import ContentKeys, ContentKeyUnwrapFailed, DataKey  # noqa: E402
from content_service.crypto.licence import (  # noqa: E402
    InsecureKeyFile,
    LicenceKeyError,
    LicenceKeyNotForThisDevice,
    LicenceKeyTampered,
    LicenceKeyUnsupported,
    device_public_jwk,
    generate_device_key,
    load_private_key,
    save_private_key,
    unwrap_content_key,
    wrap_content_key,
)
from content_service.crypto.signing import (  # noqa: E402
    KeyRing,
    KmsSigner,
    LocalSigner,
    MalformedClaims,
    SignatureInvalid,
    Signer,
    SigningFailed,
    TokenError,
    TokenExpired,
    TokenNotYetValid,
    UnknownKey,
    WrongTokenType,
    verify,
)

__all__ += [
    "ContentKeyUnwrapFailed",
    "ContentKeys",
    "DataKey",
    "InsecureKeyFile",
    "InvalidKey",
    "KeyRing",
    "KmsSigner",
    "LicenceKeyError",
    "LicenceKeyNotForThisDevice",
    "LicenceKeyTampered",
    "LicenceKeyUnsupported",
    "LocalSigner",
    "MalformedClaims",
    "SignatureInvalid",
    "Signer",
    "SigningFailed",
    "TokenError",
    "TokenExpired",
    "TokenNotYetValid",
    "UnknownKey",
    "WrongTokenType",
    "device_public_jwk",
    "es256_public_jwk",
    "generate_device_key",
    "import_x25519_public_jwk",
    "load_private_key",
    "save_private_key",
    "unwrap_content_key",
    "verify",
    "wrap_content_key",
]
