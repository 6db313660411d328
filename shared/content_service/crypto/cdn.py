"""CloudFront signed URLs: issue them with botocore's ``CloudFrontSigner``, check them like the edge.

CloudFront signs with RSA PKCS#1 v1.5 over SHA-1 (the only scheme a key group accepts) and
encodes the policy and the signature in its own URL-safe base64 alphabet ('+' → '-',
'=' → '_', '/' → '~'). The signer holds one RSA private key, loaded once from Secrets Manager
(``{"key_pair_id", "private_key_pem"}``); the verifying half (:class:`CdnVerifier`) is what
the local edge uses, so both sides of the contract live in this one crypto module.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.signers import CloudFrontSigner
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "CdnKeyPair",
    "CdnSigner",
    "CdnVerifier",
    "SignatureMismatch",
    "canned_policy",
    "cloudfront_b64decode",
    "cloudfront_b64encode",
    "generate_key_pair",
    "local_key_pair_id",
]

_TO_CLOUDFRONT = bytes.maketrans(b"+=/", b"-_~")
_FROM_CLOUDFRONT = bytes.maketrans(b"-_~", b"+=/")


class SignatureMismatch(Exception):
    """A CloudFront signature does not verify under the given public key."""


class _SecretsReader(Protocol):
    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]: ...  # noqa: N803


def cloudfront_b64encode(data: bytes) -> str:
    """Base64 in CloudFront's URL-safe alphabet, exactly as ``CloudFrontSigner`` writes it."""
    return base64.b64encode(data).translate(_TO_CLOUDFRONT).decode("ascii")


def cloudfront_b64decode(text: str) -> bytes:
    """Undo :func:`cloudfront_b64encode`; raises ``ValueError`` on anything that is not that encoding."""
    try:
        return base64.b64decode(text.encode("ascii").translate(_FROM_CLOUDFRONT), validate=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise ValueError("not CloudFront base64") from error


def canned_policy(resource: str, expires: int) -> str:
    """The canned policy CloudFront rebuilds from a canned URL; byte-for-byte botocore's form."""
    # The order and the compact separators matter: the signature covers these exact bytes.
    return (
        '{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}'  # noqa: UP031
        % (resource, expires)
    )


class CdnSigner:
    """Issues CloudFront signed URLs for objects under ``base_url`` with one key pair of a key group.

    ``base_url`` is ``https://<distribution domain>`` on AWS and the local edge's
    ``http://127.0.0.1:<port>`` locally; paths are appended to it as given (already URL-encoded).
    """

    def __init__(self, key_pair_id: str, private_key_pem: str | bytes, base_url: str) -> None:
        key = serialization.load_pem_private_key(
            private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem, password=None
        )
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError("CloudFront key groups only accept RSA keys")
        self._key = key
        self.key_pair_id = key_pair_id
        self.base_url = base_url.rstrip("/")
        self._signer = CloudFrontSigner(key_pair_id, self._rsa_sha1)

    @classmethod
    def from_secret(cls, secretsmanager: _SecretsReader, secret_arn: str, base_url: str) -> CdnSigner:
        """Load ``{"key_pair_id", "private_key_pem"}`` from Secrets Manager once; reuse the signer."""
        document = json.loads(secretsmanager.get_secret_value(SecretId=secret_arn)["SecretString"])
        return cls(document["key_pair_id"], document["private_key_pem"], base_url)

    def url_for(self, path: str) -> str:
        """The unsigned URL of ``path`` (a leading '/' is optional)."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def signed_url(self, path: str, expires_at: dt.datetime) -> str:
        """A canned-policy URL for exactly this path (and query string), valid until ``expires_at``."""
        return str(self._signer.generate_presigned_url(self.url_for(path), date_less_than=_aware(expires_at)))

    def custom_policy(
        self,
        resource: str,
        expires_at: dt.datetime,
        *,
        not_before: dt.datetime | None = None,
        ip_address: str | None = None,
    ) -> str:
        """A custom policy (compact JSON) for ``resource``, which may hold '*' and '?' wildcards."""
        return str(
            self._signer.build_policy(
                resource,
                _aware(expires_at),
                date_greater_than=_aware(not_before) if not_before else None,
                ip_address=ip_address,
            )
        )

    def signed_prefix_url(
        self,
        path: str,
        prefix: str,
        expires_at: dt.datetime,
        *,
        not_before: dt.datetime | None = None,
        ip_address: str | None = None,
    ) -> str:
        """A custom-policy URL for ``path`` whose signature covers every object under ``prefix``.

        The policy's resource is ``<base_url>/<prefix>*``, so the same ``Policy``, ``Signature`` and
        ``Key-Pair-Id`` parameters, appended to any other URL under the prefix, are valid as well:
        one signature serves all of a bundle's objects.
        """
        if not path.lstrip("/").startswith(prefix.lstrip("/")):
            raise ValueError(f"{path!r} is not under {prefix!r}")
        policy = self.custom_policy(
            self.url_for(prefix) + "*", expires_at, not_before=not_before, ip_address=ip_address
        )
        return str(self._signer.generate_presigned_url(self.url_for(path), policy=policy))

    def _rsa_sha1(self, message: bytes) -> bytes:
        # SHA-1 is not our choice: it is the only digest CloudFront verifies signed URLs with.
        return self._key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303


def _aware(moment: dt.datetime) -> dt.datetime:
    # botocore reads a naive datetime as UTC; making that explicit keeps local-time bugs out.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class CdnKeyPair:
    """An RSA-2048 key pair in PEM, as an operator registers it with CloudFront."""

    private_key_pem: str
    public_key_pem: str


def generate_key_pair() -> CdnKeyPair:
    """A fresh RSA-2048 key pair (the local stack makes one per start, like an operator would once)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return CdnKeyPair(private_pem.decode("ascii"), public_pem.decode("ascii"))


def local_key_pair_id(public_key_pem: str) -> str:
    """A CloudFront-looking public key id ('K' + 13 characters) derived from the key itself."""
    digest = hashlib.sha256(public_key_pem.strip().encode()).digest()
    return "K" + base64.b32encode(digest).decode("ascii")[:13]


class CdnVerifier:
    """Checks CloudFront signatures made with one key pair, as the edge does for a trusted key."""

    def __init__(self, public_key_pem: str) -> None:
        key = serialization.load_pem_public_key(public_key_pem.encode())
        if not isinstance(key, rsa.RSAPublicKey):
            raise TypeError("CloudFront key groups only accept RSA keys")
        # The key is parsed once: the edge verifies on every request.
        self._key = key

    def verify(self, message: bytes, signature: bytes) -> None:
        """Raise :class:`SignatureMismatch` unless ``signature`` is RSA-SHA1 over ``message``."""
        try:
            self._key.verify(signature, message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
        except InvalidSignature as error:
            raise SignatureMismatch("the signature does not match the policy") from error
