"""Create the template's KMS keys, aliases and Secrets Manager secrets in moto.

moto assigns key ids and secret ARNs (a secret's ARN ends with a random suffix), so ``Ref`` and
``GetAtt ... Arn`` of these resources only resolve once they exist: creation records the
physical values in the template's resolver, as CloudFormation would.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import boto3

from content_service.local.moto_kms import keep_long_key_ids_in_ciphertext_blobs
from content_service.local.template import LocalTemplate

# MultiRegion as the template says: moto's ciphertext blobs are widened for multi-Region key ids
# (local/moto_kms.py), so data keys made under them decrypt in the key's region and its replicas'.
_KEY_PROPERTIES = {
    "Description": "Description",
    "KeySpec": "KeySpec",
    "KeyUsage": "KeyUsage",
    "MultiRegion": "MultiRegion",
}
CDN_SECRET_FIELDS = frozenset({"key_pair_id", "private_key_pem"})
"""The shape of the CloudFront signing-key secret (CdnSigningKeySecret in template.yaml)."""


def create_keys(template: LocalTemplate, kms: Any) -> dict[str, str]:
    """Create every ``AWS::KMS::Key`` (then its aliases); return logical id → key id."""
    keep_long_key_ids_in_ciphertext_blobs()
    created: dict[str, str] = {}
    for logical_id, resource in template.of_type("AWS::KMS::Key").items():
        props = template.resolver.resolve(resource.get("Properties", {}))
        args = {api: props[cfn] for cfn, api in _KEY_PROPERTIES.items() if cfn in props}
        if "KeyPolicy" in props:
            args["Policy"] = json.dumps(props["KeyPolicy"])
        metadata = kms.create_key(**args)["KeyMetadata"]
        if props.get("EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=metadata["KeyId"])
        template.resolver.refs[logical_id] = metadata["KeyId"]
        template.resolver.attributes[(logical_id, "KeyId")] = metadata["KeyId"]
        template.resolver.attributes[(logical_id, "Arn")] = metadata["Arn"]
        created[logical_id] = metadata["KeyId"]
    for logical_id, resource in template.of_type("AWS::KMS::Alias").items():
        props = template.resolver.resolve(resource.get("Properties", {}))
        kms.create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
        template.resolver.refs[logical_id] = props["AliasName"]
    return created


def create_secrets(template: LocalTemplate, secretsmanager: Any) -> dict[str, str]:
    """Create every ``AWS::SecretsManager::Secret`` with its template value; return logical id → ARN."""
    created: dict[str, str] = {}
    for logical_id, resource in template.of_type("AWS::SecretsManager::Secret").items():
        props = template.resolver.resolve(resource.get("Properties", {}))
        name = props.get("Name") or f"{template.stack_name}-{logical_id}"
        value = props.get("SecretString")
        if value is None and "GenerateSecretString" in props:
            # What Secrets Manager does for GenerateSecretString: a fresh random value per stack.
            value = secrets.token_urlsafe(int(props["GenerateSecretString"].get("PasswordLength", 32)))
        args: dict[str, Any] = {"Name": name, "SecretString": value if value is not None else "{}"}
        if "Description" in props:
            args["Description"] = props["Description"]
        arn = secretsmanager.create_secret(**args)["ARN"]
        template.resolver.refs[logical_id] = arn
        template.resolver.attributes[(logical_id, "Id")] = arn
        created[logical_id] = arn
    return created


def cdn_secret_ids(template: LocalTemplate, secretsmanager: Any) -> list[str]:
    """The secrets shaped like the CloudFront key secret (``{"key_pair_id", "private_key_pem"}``)."""
    found = []
    for logical_id in template.of_type("AWS::SecretsManager::Secret"):
        value = secretsmanager.get_secret_value(SecretId=template.resolver.refs[logical_id])["SecretString"]
        try:
            document = json.loads(value)
        except ValueError:
            continue
        if isinstance(document, dict) and set(document) == CDN_SECRET_FIELDS:
            found.append(logical_id)
    return found


def put_cdn_private_key(template: LocalTemplate, secretsmanager: Any, private_key_pem: str) -> list[str]:
    """Do what an operator does after deploying: put the private key into the CDN key secret.

    The key pair id already in the secret (the template writes CloudFront's id of the public key)
    is kept, so the secret and the key group agree. Returns the logical ids it filled.
    """
    filled = cdn_secret_ids(template, secretsmanager)
    for logical_id in filled:
        arn = template.resolver.refs[logical_id]
        document = json.loads(secretsmanager.get_secret_value(SecretId=arn)["SecretString"])
        document["private_key_pem"] = private_key_pem
        secretsmanager.put_secret_value(SecretId=arn, SecretString=json.dumps(document))
    return filled


def replicate_to_peer(template: LocalTemplate, region: str, peer: str) -> dict[str, str]:
    """What the secondary's stack holds of the primary's keys and secrets, made in ``peer``.

    Keys: the template's keys are multi-Region and the secondary has ``AWS::KMS::ReplicaKey``s
    (same key id, same key material); KMS's ``ReplicateKey`` makes each here, so the peer signs
    and decrypts under the same key ids and one JWKS verifies both regions. Secrets: a replica of
    each secret (``ReplicaRegions``) under the same name and value. Returns each secret's ARN →
    its replica's ARN.
    """
    kms = boto3.client("kms", region_name=region)
    for logical_id in template.of_type("AWS::KMS::Key"):
        kms.replicate_key(KeyId=str(template.resolver.refs[logical_id]), ReplicaRegion=peer)
    source = boto3.client("secretsmanager", region_name=region)
    target = boto3.client("secretsmanager", region_name=peer)
    replicas: dict[str, str] = {}
    for logical_id in template.of_type("AWS::SecretsManager::Secret"):
        arn = str(template.resolver.refs[logical_id])
        secret = source.get_secret_value(SecretId=arn)
        replicas[arn] = target.create_secret(Name=secret["Name"], SecretString=secret["SecretString"])["ARN"]
    return replicas
