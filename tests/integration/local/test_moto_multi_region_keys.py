"""The template's multi-Region keys on moto, as the local stack makes them (local/keys.py).

moto 5.2 cuts a multi-Region key id short in its ciphertext blobs; local/moto_kms.py widens the
blob, so a data key made under ``ContentKey`` decrypts in its region and under the peer's
replica, and the peer's replica of ``SigningKey`` signs with the same public key (the secondary
issues licences one JWKS verifies).
"""

from __future__ import annotations

import boto3
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from content_service.local.keys import replicate_to_peer

PEER = "eu-central-1"


def test_the_keys_are_multi_region_and_their_replicas_decrypt_and_sign_in_the_peer(aws_template) -> None:
    refs = aws_template.resolver.refs
    content_key, signing_key = str(refs["ContentKey"]), str(refs["SigningKey"])
    kms, peer = boto3.client("kms"), boto3.client("kms", region_name=PEER)
    assert content_key.startswith("mrk-") and signing_key.startswith("mrk-")
    data_key = kms.generate_data_key(KeyId=content_key, KeySpec="AES_256")
    assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    # Before the replicas exist the peer knows neither key.
    with pytest.raises(peer.exceptions.ClientError):
        peer.decrypt(CiphertextBlob=data_key["CiphertextBlob"], KeyId=content_key)

    replicate_to_peer(aws_template, aws_template.region, PEER)

    assert (
        peer.describe_key(KeyId=content_key)["KeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"]
        == "REPLICA"
    )
    unwrapped = peer.decrypt(CiphertextBlob=data_key["CiphertextBlob"], KeyId=content_key)["Plaintext"]
    assert unwrapped == data_key["Plaintext"]
    signature = peer.sign(
        KeyId=signing_key, Message=b"licence", MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256"
    )["Signature"]
    public = load_der_public_key(kms.get_public_key(KeyId=signing_key)["PublicKey"])
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, b"licence", ec.ECDSA(hashes.SHA256()))  # raises if it does not verify


def test_keys_whose_ids_fit_moto_s_field_keep_moto_s_blob_format(aws_template) -> None:
    kms = boto3.client("kms")
    single = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=single, Plaintext=b"abc")["CiphertextBlob"]
    assert blob.startswith(single.encode())  # moto's own header: the id, then IV and tag
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"abc"
