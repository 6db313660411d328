"""The container header: magic, format version, segment size, salt, nonce prefix, key commitment.

The header is written in clear at the start of the container. It is authenticated twice: its
first bytes feed the key derivation, whose second output (the key commitment) is stored in the
header itself and checked before anything is decrypted; and the whole header is associated data
of every segment, so a segment only opens under the header it was sealed with.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from content_service.crypto.errors import (
    ContainerKeyMismatch,
    ContainerTampered,
    ContainerTruncated,
    UnsupportedVersion,
)

MAGIC = b"CSCT"
FORMAT_VERSION = 1
KEY_SIZE = 32
SALT_SIZE = 16
NONCE_PREFIX_SIZE = 8
COMMITMENT_SIZE = 32
MIN_SEGMENT_SIZE = 64
MAX_SEGMENT_SIZE = 1 << 24
DEFAULT_SEGMENT_SIZE = 1 << 16

# magic (4) | version (1) | segment size (4, big-endian) | salt (16) | nonce prefix (8).
_PREFIX = struct.Struct(">4sBI16s8s")
HEADER_SIZE = _PREFIX.size + COMMITMENT_SIZE

# The HKDF info names the format and its version, so keys derived for another use of the same
# content key (or for a later format version) can never coincide with these.
_KDF_LABEL = b"content-service/container/v1\x00"

RandomSource = Callable[[int], bytes]


@dataclass(frozen=True)
class Header:
    """The parsed, authenticated header of a version 1 container."""

    segment_size: int
    salt: bytes
    nonce_prefix: bytes
    key_commitment: bytes

    def encode(self) -> bytes:
        """The header's exact bytes, as written at offset 0 of the container."""
        prefix = _PREFIX.pack(MAGIC, FORMAT_VERSION, self.segment_size, self.salt, self.nonce_prefix)
        return prefix + self.key_commitment


def check_key(key: bytes) -> None:
    """Refuse anything but a 256-bit key; a caller bug, so a ``ValueError`` like pyca's own."""
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_SIZE:
        raise ValueError(f"the content key must be {KEY_SIZE} bytes")


def check_segment_size(segment_size: int) -> None:
    """Refuse segment sizes the format does not allow (a caller bug when sealing)."""
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise ValueError(f"segment size must be between {MIN_SEGMENT_SIZE} and {MAX_SEGMENT_SIZE} bytes")


def _derive(key: bytes, header_prefix: bytes, salt: bytes) -> tuple[bytes, bytes]:
    """Derive the per-container AES-256 key and the key commitment from the content key.

    One HKDF-SHA256 call yields 64 bytes: the first half keys AES-GCM for this container only
    (so nonces never repeat across containers even if a content key seals many), the second half
    is the commitment stored in the header. AES-GCM alone is not key-committing; a commitment
    derived from the key, as in the AWS Encryption SDK's committing suites, makes a container
    open under exactly one key.
    """
    hkdf = HKDF(algorithm=hashes.SHA256(), length=2 * KEY_SIZE, salt=salt, info=_KDF_LABEL + header_prefix)
    okm = hkdf.derive(bytes(key))
    return okm[:KEY_SIZE], okm[KEY_SIZE:]


def new_header(key: bytes, segment_size: int, random: RandomSource) -> tuple[Header, bytes]:
    """Make a fresh header (random salt and nonce prefix) and the segment key it commits to."""
    check_key(key)
    check_segment_size(segment_size)
    salt = random(SALT_SIZE)
    nonce_prefix = random(NONCE_PREFIX_SIZE)
    if len(salt) != SALT_SIZE or len(nonce_prefix) != NONCE_PREFIX_SIZE:
        raise ValueError("the random source returned the wrong number of bytes")
    prefix = _PREFIX.pack(MAGIC, FORMAT_VERSION, segment_size, salt, nonce_prefix)
    segment_key, commitment = _derive(key, prefix, salt)
    return Header(segment_size, salt, nonce_prefix, commitment), segment_key


def open_header(key: bytes, data: bytes) -> tuple[Header, bytes]:
    """Parse and authenticate a header; return it with the segment key.

    Raises ``ContainerTruncated`` if ``data`` is shorter than a header, ``ContainerTampered`` if
    the magic or segment size is wrong, ``UnsupportedVersion`` for another format version, and
    ``ContainerKeyMismatch`` if the key does not match the commitment.
    """
    check_key(key)
    if len(data) < len(MAGIC) + 1:
        # The magic and version are checked before the full length, so a future version with
        # a shorter header still reports its version rather than a cut.
        raise ContainerTruncated("the container is shorter than its header")
    magic, version = data[:4], data[4]
    if magic != MAGIC:
        raise ContainerTampered("the container does not start with the content container magic")
    if version != FORMAT_VERSION:
        raise UnsupportedVersion(f"container format version {version} is not supported", version=version)
    if len(data) < HEADER_SIZE:
        raise ContainerTruncated("the container is shorter than its header")
    _, _, segment_size, salt, nonce_prefix = _PREFIX.unpack_from(data)
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise ContainerTampered("the header's segment size is out of range")
    segment_key, expected = _derive(key, bytes(data[: _PREFIX.size]), salt)
    commitment = bytes(data[_PREFIX.size : HEADER_SIZE])
    if not hmac.compare_digest(expected, commitment):
        raise ContainerKeyMismatch("the key does not match the container's key commitment")
    return Header(segment_size, salt, nonce_prefix, commitment), segment_key
