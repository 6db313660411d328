"""Signing and content keys against moto's KMS, in process.

What moto 5.2.5 does and does not do, as these tests pin it:

- ``Sign`` with ``MessageType=RAW`` returns a DER ECDSA signature over SHA-256 of the message;
  ``GetPublicKey`` returns the DER SubjectPublicKeyInfo. moto ignores ``MessageType`` (a DIGEST
  message is hashed again, unlike KMS) and does not apply KMS's 4096-byte RAW limit, which is
  why ``KmsSigner`` enforces that limit itself.
- ``GenerateDataKey`` binds the encryption context as AES-GCM associated data, so ``Decrypt``
  with any other context (a changed value, a missing or an extra pair, none at all) fails with
  ``InvalidCiphertextException``, as on KMS.
- ``Decrypt`` with a ``KeyId`` other than the key that wrapped the blob is refused, but with
  ``AccessDeniedException`` where KMS answers ``IncorrectKeyException``. ``ContentKeys`` maps
  only the KMS answers (``InvalidCiphertextException``, ``IncorrectKeyException``) to
  ``ContentKeyUnwrapFailed``; an access denial stays an infrastructure error and propagates.
"""

from __future__ import annotations

import base64
import json

import boto3
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from moto import mock_aws

from content_service.crypto.jwk import InvalidKey
from content_service.crypto.keys import ContentKeys, ContentKeyUnwrapFailed
from content_service.crypto.signing import (
    KeyRing,
    KmsSigner,
    SigningFailed,
    UnknownKey,
    verify,
)

TYP = "bundle-manifest+jwt"


@pytest.fixture
def kms(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("kms", region_name="eu-west-1")


def signing_key(kms) -> str:
    return kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]


def content_key(kms) -> str:
    return kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# Signing


def test_a_kms_signed_manifest_verifies_against_the_jwks_built_from_get_public_key(kms):
    signer = KmsSigner(kms, signing_key(kms))
    claims = {"iss": "content-service", "ver": 1, "bundle_id": "bnd_1", "packages": []}

    token = signer.sign(claims, typ=TYP)
    jwks = KeyRing([signer]).jwks()

    assert verify(token, jwks, typ=TYP) == claims
    header = json.loads(unb64(token.split(".")[0]))
    assert header == {"alg": "ES256", "kid": signer.kid, "typ": TYP}
    assert jwks["keys"][0]["kid"] == signer.kid


def test_kms_itself_accepts_the_jose_signature_converted_back_to_der(kms):
    key_id = signing_key(kms)
    token = KmsSigner(kms, key_id).sign({"ver": 1}, typ=TYP)
    header, payload, signature = token.split(".")
    raw = unb64(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))

    answer = kms.verify(
        KeyId=key_id,
        Message=f"{header}.{payload}".encode(),
        MessageType="RAW",
        Signature=der,
        SigningAlgorithm="ECDSA_SHA_256",
    )

    assert answer["SignatureValid"] is True


def test_rotation_across_two_kms_keys(kms):
    old, new = KmsSigner(kms, signing_key(kms)), KmsSigner(kms, signing_key(kms))
    old_token = KeyRing([old]).sign({"jti": "lic_old"}, typ=TYP)

    during = KeyRing([new, old])
    assert during.verify(old_token, typ=TYP) == {"jti": "lic_old"}
    assert json.loads(unb64(during.sign({}, typ=TYP).split(".")[0]))["kid"] == new.kid

    with pytest.raises(UnknownKey):
        KeyRing([new]).verify(old_token, typ=TYP)


def test_a_kms_signer_refuses_input_kms_would_refuse_raw(kms):
    with pytest.raises(SigningFailed):
        KmsSigner(kms, signing_key(kms)).sign({"blob": "x" * 5000}, typ=TYP)


def test_moto_does_not_enforce_the_raw_size_limit(kms):
    # Pinned so that the day moto starts enforcing it, this note (and KmsSigner's own check) is revisited.
    answer = kms.sign(
        KeyId=signing_key(kms), Message=b"x" * 5000, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256"
    )
    assert answer["Signature"]


def test_a_symmetric_key_cannot_be_a_signer(kms):
    with pytest.raises((InvalidKey, kms.exceptions.UnsupportedOperationException)):
        KmsSigner(kms, content_key(kms)).sign({}, typ=TYP)


# Content keys


def test_a_content_key_is_generated_and_unwrapped_with_its_context(kms):
    keys = ContentKeys(kms, content_key(kms))

    key = keys.generate("t1", "pkg_1", 2)

    assert len(key.plaintext) == 32
    assert key.wrapped != key.plaintext
    assert keys.unwrap(key.wrapped, "t1", "pkg_1", 2) == key.plaintext


@pytest.mark.parametrize(
    ("tenant", "package", "version"), [("t2", "pkg_1", 2), ("t1", "pkg_2", 2), ("t1", "pkg_1", 3)]
)
def test_moto_refuses_to_unwrap_under_another_context(kms, tenant, package, version):
    keys = ContentKeys(kms, content_key(kms))
    key = keys.generate("t1", "pkg_1", 2)

    with pytest.raises(ContentKeyUnwrapFailed):
        keys.unwrap(key.wrapped, tenant, package, version)


@pytest.mark.parametrize(
    "context",
    [
        None,
        {},
        {"tenant_id": "t1", "package_id": "pkg_1"},
        {"tenant_id": "t1", "package_id": "pkg_1", "version": "2", "x": "y"},
    ],
    ids=["absent", "empty", "missing-pair", "extra-pair"],
)
def test_moto_binds_the_whole_context(kms, context):
    key_id = content_key(kms)
    key = ContentKeys(kms, key_id).generate("t1", "pkg_1", 2)
    extra = {} if context is None else {"EncryptionContext": context}

    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=key.wrapped, **extra)


def test_a_tampered_wrapped_key_is_refused(kms):
    keys = ContentKeys(kms, content_key(kms))
    wrapped = bytearray(keys.generate("t1", "pkg_1", 2).wrapped)
    wrapped[-1] ^= 0x01

    with pytest.raises(ContentKeyUnwrapFailed):
        keys.unwrap(bytes(wrapped), "t1", "pkg_1", 2)


def test_a_key_wrapped_under_another_kms_key_is_refused_as_moto_does_it(kms):
    # Real KMS answers IncorrectKeyException (mapped to ContentKeyUnwrapFailed, see the unit tests);
    # moto answers AccessDeniedException, which ContentKeys deliberately lets through.
    other = ContentKeys(kms, content_key(kms)).generate("t1", "pkg_1", 2)

    with pytest.raises(ClientError) as caught:
        ContentKeys(kms, content_key(kms)).unwrap(other.wrapped, "t1", "pkg_1", 2)
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
