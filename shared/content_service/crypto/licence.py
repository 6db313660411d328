"""Licence key wrapping: each content key as a JWE to one device, for one bundle; device key files.

A licence carries each content key as a compact JWE (RFC 7516) with header
``{"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "apu": b64url(bundle_id), "apv": b64url(device_id)}``
to the device's X25519 key (RFC 8037). apu and apv enter the Concat KDF (RFC 7518 4.6.2), so
another device, or the same device for another bundle, derives another key-wrapping key; the
protected header is also the AES-GCM associated data. joserfc does all of the JOSE; the epk,
the content-encryption key and the IV are made by the library, never by the caller.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from joserfc.util import urlsafe_b64encode

from content_service.crypto.jwk import ECDH_ES_A256KW, InvalidKey, import_x25519_public_jwk
from content_service.domain.errors import PROBLEM_BASE, DomainError

ENC = "A256GCM"
CONTENT_KEY_BYTES = 32
#: The protected header holds exactly these members (``epk`` is added by joserfc).
_HEADER_MEMBERS = frozenset({"alg", "enc", "apu", "apv", "epk"})
_ALGORITHMS = [ECDH_ES_A256KW, ENC]


class LicenceKeyError(DomainError):
    """Base of every reason a wrapped content key is refused."""

    problem_type = PROBLEM_BASE + "licence-key-invalid"
    title = "The licence's content key cannot be used"
    status = 422


class LicenceKeyNotForThisDevice(LicenceKeyError):
    """The JWE's apu/apv name another bundle or another device than the caller expects."""

    problem_type = PROBLEM_BASE + "licence-key-not-for-this-device"
    title = "The content key was issued for another bundle or device"


class LicenceKeyUnsupported(LicenceKeyError):
    """The JWE uses another alg or enc, or carries header members the format does not have."""

    problem_type = PROBLEM_BASE + "licence-key-unsupported"
    title = "The content key uses an unsupported format"


class LicenceKeyTampered(LicenceKeyError):
    """The JWE does not decrypt with this device's key: altered, or encrypted to another key."""

    problem_type = PROBLEM_BASE + "licence-key-tampered"
    title = "The content key does not decrypt"


class InsecureKeyFile(DomainError):
    """A device key file is readable by its group or others, or is not a regular file."""

    problem_type = PROBLEM_BASE + "insecure-key-file"
    title = "The device key file is not private"
    status = 500


def _party_info(bundle_id: str, device_id: str) -> tuple[str, str]:
    if not isinstance(bundle_id, str) or not bundle_id or not isinstance(device_id, str) or not device_id:
        raise ValueError("bundle_id and device_id must be non-empty strings")
    return (
        urlsafe_b64encode(bundle_id.encode("utf-8")).decode("ascii"),
        urlsafe_b64encode(device_id.encode("utf-8")).decode("ascii"),
    )


def wrap_content_key(
    key: bytes, device_public_jwk: Mapping[str, Any], *, bundle_id: str, device_id: str
) -> str:
    """Encrypt a 32-byte content key to a device, for a bundle, as a compact JWE.

    ``device_public_jwk`` must be a public OKP X25519 JWK (``InvalidKey`` otherwise).
    """
    if not isinstance(key, bytes) or len(key) != CONTENT_KEY_BYTES:
        raise ValueError("a content key is 32 bytes")
    recipient = import_x25519_public_jwk(device_public_jwk)
    apu, apv = _party_info(bundle_id, device_id)
    header = {"alg": ECDH_ES_A256KW, "enc": ENC, "apu": apu, "apv": apv}
    return jwe.encrypt_compact(header, key, recipient, algorithms=_ALGORITHMS)


def unwrap_content_key(
    token: str, device_private_key: X25519PrivateKey, *, bundle_id: str, device_id: str
) -> bytes:
    """Decrypt a content key wrapped by ``wrap_content_key`` for this bundle and this device.

    The header is checked before any decryption: exactly ECDH-ES+A256KW / A256GCM
    (``LicenceKeyUnsupported``) and apu/apv equal to the expected ids
    (``LicenceKeyNotForThisDevice``). A JWE that then fails to decrypt raises ``LicenceKeyTampered``.
    """
    if not isinstance(device_private_key, X25519PrivateKey):
        raise InvalidKey("a device key is an X25519 private key")
    apu, apv = _party_info(bundle_id, device_id)
    private = OKPKey.import_key(device_private_key)

    def checked_key(recipient: jwe.Recipient[Any]) -> OKPKey:
        # joserfc hands the parsed protected header to a key callable before it decrypts, which
        # is where the header is checked: nothing is derived for a JWE that is not ours.
        header = recipient.headers()
        if set(header) != _HEADER_MEMBERS or header.get("alg") != ECDH_ES_A256KW or header.get("enc") != ENC:
            raise LicenceKeyUnsupported("the content key is not an ECDH-ES+A256KW / A256GCM JWE")
        try:
            import_x25519_public_jwk(header["epk"])
        except InvalidKey as error:
            raise LicenceKeyUnsupported(
                "the content key's ephemeral key is not a public X25519 JWK"
            ) from error
        if header.get("apu") != apu or header.get("apv") != apv:
            raise LicenceKeyNotForThisDevice(
                "the content key was wrapped for another bundle or device",
                bundle_id=bundle_id,
                device_id=device_id,
            )
        return private

    if not isinstance(token, str):
        raise LicenceKeyTampered("the content key must be a compact JWE string")
    try:
        result = jwe.decrypt_compact(token.encode("ascii"), checked_key, algorithms=_ALGORITHMS)
    except LicenceKeyError:
        raise
    except (JoseError, ValueError, TypeError, UnicodeError) as error:
        raise LicenceKeyTampered("the content key does not decrypt with this device's key") from error
    plaintext = result.plaintext
    if not isinstance(plaintext, bytes) or len(plaintext) != CONTENT_KEY_BYTES:
        raise LicenceKeyTampered("the decrypted content key is not 32 bytes")
    return plaintext


def generate_device_key() -> X25519PrivateKey:
    """A fresh X25519 device key."""
    return X25519PrivateKey.generate()


def device_public_jwk(private_key: X25519PrivateKey) -> dict[str, str]:
    """The public JWK a device enrolls: ``{"kty": "OKP", "crv": "X25519", "x": ...}``."""
    if not isinstance(private_key, X25519PrivateKey):
        raise InvalidKey("a device key is an X25519 private key")
    key = OKPKey.import_key(private_key.public_key())
    return {"kty": "OKP", "crv": "X25519", "x": str(key["x"])}


def save_private_key(private_key: X25519PrivateKey, path: str | os.PathLike[str]) -> Path:
    """Write the device key as PKCS#8 PEM to a new file that is mode 0600 from its creation.

    The file is created with ``O_CREAT | O_EXCL`` and mode 0600, so it never exists with wider
    permissions and an existing key (or a symlink planted in its place) is never overwritten.
    """
    if not isinstance(private_key, X25519PrivateKey):
        raise InvalidKey("a device key is an X25519 private key")
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    target = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(target, flags, 0o600)
    try:
        view = memoryview(pem)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    return target


def load_private_key(path: str | os.PathLike[str]) -> X25519PrivateKey:
    """Read a device key saved by ``save_private_key``; refuse a file others could read.

    The mode is checked on the open descriptor (``fstat``), so the file checked is the file read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(Path(path), flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InsecureKeyFile("the device key path is not a regular file", path=str(path))
        if info.st_mode & 0o077:
            raise InsecureKeyFile(
                "the device key file is readable or writable by group or others; it must be 0600",
                path=str(path),
                mode=oct(stat.S_IMODE(info.st_mode)),
            )
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    try:
        key = serialization.load_pem_private_key(b"".join(chunks), password=None)
    except (ValueError, TypeError) as error:
        raise InvalidKey("the device key file is not a PKCS#8 PEM private key") from error
    if not isinstance(key, X25519PrivateKey):
        raise InvalidKey("the device key file does not hold an X25519 key")
    return key
