"""CloudFront signed URLs: what the signer puts in them, and that the verifying half agrees."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.signers import CloudFrontSigner

from content_service.crypto.cdn import (
    CdnKeyPair,
    CdnSigner,
    CdnVerifier,
    SignatureMismatch,
    canned_policy,
    cloudfront_b64decode,
    cloudfront_b64encode,
    generate_key_pair,
    local_key_pair_id,
)

BASE = "https://d111111abcdef8.cloudfront.net"
EXPIRES = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
EPOCH = int(EXPIRES.timestamp())


@pytest.fixture(scope="module")
def key_pair() -> CdnKeyPair:
    return generate_key_pair()


@pytest.fixture(scope="module")
def signer(key_pair: CdnKeyPair) -> CdnSigner:
    return CdnSigner("K2JCJMDEHXQW5F", key_pair.private_key_pem, BASE + "/")


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def test_a_canned_url_carries_expires_signature_and_key_pair_id(signer: CdnSigner) -> None:
    url = signer.signed_url("/tenants/t1/bundles/b1/manifest.jws", EXPIRES)

    assert url.startswith(BASE + "/tenants/t1/bundles/b1/manifest.jws?Expires=")
    params = _query(url)
    assert list(params) == ["Expires", "Signature", "Key-Pair-Id"]
    assert params["Expires"] == str(EPOCH)
    assert params["Key-Pair-Id"] == "K2JCJMDEHXQW5F"


def test_the_signature_uses_cloudfronts_alphabet_and_verifies_over_the_canned_policy(
    signer: CdnSigner, key_pair: CdnKeyPair
) -> None:
    url = signer.signed_url("tenants/t1/a.cspc", EXPIRES)
    signature = _query(url)["Signature"]

    assert not set(signature) & set("+=/")
    CdnVerifier(key_pair.public_key_pem).verify(
        canned_policy(BASE + "/tenants/t1/a.cspc", EPOCH).encode(), cloudfront_b64decode(signature)
    )


def test_the_canned_policy_is_byte_for_byte_what_botocore_signs() -> None:
    built = CloudFrontSigner("K", lambda message: b"").build_policy(BASE + "/a?x=1", EXPIRES)
    assert canned_policy(BASE + "/a?x=1", EPOCH) == built


def test_a_signature_for_another_object_does_not_verify(signer: CdnSigner, key_pair: CdnKeyPair) -> None:
    signature = cloudfront_b64decode(_query(signer.signed_url("tenants/t1/a.cspc", EXPIRES))["Signature"])

    with pytest.raises(SignatureMismatch):
        CdnVerifier(key_pair.public_key_pem).verify(
            canned_policy(BASE + "/tenants/t1/b.cspc", EPOCH).encode(), signature
        )


def test_a_prefix_url_carries_a_custom_policy_for_the_whole_prefix(
    signer: CdnSigner, key_pair: CdnKeyPair
) -> None:
    not_before = EXPIRES - dt.timedelta(hours=1)
    url = signer.signed_prefix_url(
        "tenants/t1/bundles/b1/manifest.jws",
        "tenants/t1/",
        EXPIRES,
        not_before=not_before,
        ip_address="10.0.0.1",
    )

    params = _query(url)
    assert list(params) == ["Policy", "Signature", "Key-Pair-Id"]
    policy_bytes = cloudfront_b64decode(params["Policy"])
    assert json.loads(policy_bytes) == {
        "Statement": [
            {
                "Resource": BASE + "/tenants/t1/*",
                "Condition": {
                    "DateLessThan": {"AWS:EpochTime": EPOCH},
                    "IpAddress": {"AWS:SourceIp": "10.0.0.1/32"},
                    "DateGreaterThan": {"AWS:EpochTime": EPOCH - 3600},
                },
            }
        ]
    }
    CdnVerifier(key_pair.public_key_pem).verify(policy_bytes, cloudfront_b64decode(params["Signature"]))


def test_a_prefix_url_must_lie_under_its_prefix(signer: CdnSigner) -> None:
    with pytest.raises(ValueError, match="not under"):
        signer.signed_prefix_url("tenants/t2/a.cspc", "tenants/t1/", EXPIRES)


def test_a_naive_expiry_is_read_as_utc(signer: CdnSigner) -> None:
    naive = signer.signed_url("a", EXPIRES.replace(tzinfo=None))
    assert _query(naive)["Expires"] == str(EPOCH)


def test_the_signer_loads_its_key_once_from_the_secret(key_pair: CdnKeyPair) -> None:
    class Secrets:
        calls: list[str] = []

        def get_secret_value(self, *, SecretId: str) -> dict[str, Any]:  # noqa: N803
            self.calls.append(SecretId)
            return {
                "SecretString": json.dumps(
                    {"key_pair_id": "KLOCAL", "private_key_pem": key_pair.private_key_pem}
                )
            }

    secrets = Secrets()
    signer = CdnSigner.from_secret(secrets, "arn:secret", "http://127.0.0.1:9")
    signer.signed_url("a", EXPIRES)
    signer.signed_url("b", EXPIRES)

    assert secrets.calls == ["arn:secret"]
    assert signer.key_pair_id == "KLOCAL"
    assert signer.url_for("/a") == "http://127.0.0.1:9/a"


def test_only_rsa_keys_are_accepted(key_pair: CdnKeyPair) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    with pytest.raises(TypeError):
        CdnSigner("K", ec_pem, BASE)


@pytest.mark.parametrize("data", [b"", b"\xfb\xff\xfe", bytes(range(256))])
def test_cloudfront_base64_round_trips_and_avoids_url_specials(data: bytes) -> None:
    encoded = cloudfront_b64encode(data)
    assert not set(encoded) & set("+=/")
    assert cloudfront_b64decode(encoded) == data


def test_garbage_is_not_cloudfront_base64() -> None:
    with pytest.raises(ValueError):
        cloudfront_b64decode("not base64!")


def test_local_key_pair_ids_look_like_cloudfronts_and_follow_the_key(key_pair: CdnKeyPair) -> None:
    key_id = local_key_pair_id(key_pair.public_key_pem)
    assert key_id.startswith("K") and len(key_id) == 14 and key_id.isalnum()
    assert key_id == local_key_pair_id(key_pair.public_key_pem + "\n")
