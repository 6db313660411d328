"""The local stack creates what template.yaml declares and tells other processes where it runs."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from cfnlint.decode import decode_str

from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack, RunningStack, StackAlreadyRunningError, find_template
from tests.integration.local.probes import Probe

TEMPLATE = find_template(Path(__file__).parent)


def _declared(kind: str) -> set[str]:
    # Parsed with cfn-lint's decoder, not the stack's own loader, so the two cannot share a bug.
    template, _ = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    return {name for name, resource in template["Resources"].items() if resource["Type"] == kind}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def stack(home: Path) -> Iterator[LocalStack]:
    ok = Probe(lambda event: {"statusCode": 200, "body": "{}"})
    probes = {"ApiFunction": ok, "BuildPackageFunction": Probe(), "SweepStaleBuildsFunction": Probe()}
    with LocalStack(
        home=home, handlers=probes, runner_settings=RunnerSettings(schedules_enabled=False)
    ) as running:
        yield running


def test_every_declared_table_exists_with_its_keys_indexes_and_stream(stack: LocalStack) -> None:
    endpoints = stack.endpoints
    assert set(endpoints.tables) == _declared("AWS::DynamoDB::Table") | _declared("AWS::DynamoDB::GlobalTable")
    dynamodb = boto3.client("dynamodb")
    table = dynamodb.describe_table(TableName=endpoints.tables["Table"])["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"pk": "HASH", "sk": "RANGE"}
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["gsi1", "gsi2"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    ttl = dynamodb.describe_time_to_live(TableName=endpoints.tables["IdempotencyTable"])
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expiration"


def test_every_declared_queue_exists_with_its_redrive_policy(stack: LocalStack) -> None:
    endpoints = stack.endpoints
    assert set(endpoints.queues) == _declared("AWS::SQS::Queue")
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=endpoints.queues["BuildQueue"], AttributeNames=["All"])[
        "Attributes"
    ]
    dead_letter_arn = sqs.get_queue_attributes(
        QueueUrl=endpoints.queues["BuildDeadLetterQueue"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": dead_letter_arn,
        "maxReceiveCount": 3,
    }
    assert attributes["VisibilityTimeout"] == "5400"


def test_every_declared_bucket_exists_private_encrypted_and_wired(stack: LocalStack) -> None:
    endpoints = stack.endpoints
    assert set(endpoints.buckets) == _declared("AWS::S3::Bucket")
    s3 = boto3.client("s3")
    for name in endpoints.buckets.values():
        block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        assert all(block.values()), name
        rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    uploads = endpoints.buckets["UploadsBucket"]
    assert uploads == "content-service-local-uploads-123456789012"
    (queue_config,) = s3.get_bucket_notification_configuration(Bucket=uploads)["QueueConfigurations"]
    assert queue_config["QueueArn"] == stack.template.queues["BuildQueue"].arn
    assert queue_config["Events"] == ["s3:ObjectCreated:*"]
    assert s3.get_bucket_cors(Bucket=uploads)["CORSRules"][0]["AllowedMethods"] == ["PUT"]


def test_the_template_kms_keys_exist_with_their_specs_and_aliases(stack: LocalStack) -> None:
    keys = stack.endpoints.keys
    assert set(keys) == _declared("AWS::KMS::Key")
    kms = boto3.client("kms")
    signing = kms.describe_key(KeyId=keys["SigningKey"])["KeyMetadata"]
    assert (signing["KeySpec"], signing["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    content = kms.describe_key(KeyId=keys["ContentKey"])["KeyMetadata"]
    assert (content["KeySpec"], content["KeyUsage"]) == ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/content-service-local/signing"] == keys["SigningKey"]
    assert aliases["alias/content-service-local/content"] == keys["ContentKey"]
    policy = json.loads(kms.get_key_policy(KeyId=keys["SigningKey"], PolicyName="default")["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["AccountAdministersTheKey", "ApiFunctionSigns"]


def test_the_handlers_can_sign_and_make_content_keys_with_the_configured_keys(stack: LocalStack) -> None:
    kms = boto3.client("kms")
    (signing_key,) = os.environ["SIGNING_KEY_IDS"].split(",")
    signature = kms.sign(
        KeyId=signing_key, Message=b"m", MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256"
    )["Signature"]
    assert signature
    data_key = kms.generate_data_key(KeyId=os.environ["CONTENT_KEY_ID"], KeySpec="AES_256")
    assert len(data_key["Plaintext"]) == 32


def test_the_cdn_key_secret_holds_a_private_key_the_edge_trusts(stack: LocalStack) -> None:
    secrets = stack.endpoints.secrets
    assert set(secrets) == _declared("AWS::SecretsManager::Secret")
    assert os.environ["CDN_KEY_SECRET_ARN"] == secrets["CdnSigningKeySecret"]
    value = boto3.client("secretsmanager").get_secret_value(SecretId=secrets["CdnSigningKeySecret"])
    document = json.loads(value["SecretString"])
    assert set(document) == {"key_pair_id", "private_key_pem"}
    assert document["private_key_pem"].startswith("-----BEGIN PRIVATE KEY-----")
    edge = stack.edges["BundlesDistribution"]
    assert document["key_pair_id"] in edge.checker._verifiers


def test_handlers_run_with_the_resolved_function_environment(stack: LocalStack) -> None:
    endpoints = stack.endpoints
    assert os.environ["AWS_ENDPOINT_URL"] == endpoints.endpoint_url
    assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert os.environ["TABLE_NAME"] == endpoints.tables["Table"]
    assert os.environ["IDEMPOTENCY_TABLE_NAME"] == endpoints.tables["IdempotencyTable"]
    assert os.environ["UPLOADS_BUCKET"] == endpoints.buckets["UploadsBucket"]
    assert os.environ["PACKAGES_BUCKET"] == endpoints.buckets["PackagesBucket"]
    assert os.environ["POWERTOOLS_SERVICE_NAME"] == "content-service"
    assert os.environ["BUNDLES_BUCKET"] == endpoints.buckets["BundlesBucket"]
    assert os.environ["RESIDENCY_ZONE"] == "eu"
    assert os.environ["CDN_DOMAIN"] == stack.edges["BundlesDistribution"].domain
    assert os.environ["CDN_BASE_URL"] == endpoints.edge_url == f"http://{os.environ['CDN_DOMAIN']}"
    assert stack.function_environment("BuildPackageFunction")["TABLE_NAME"] == endpoints.tables["Table"]


def test_another_process_finds_the_stack_and_mints_tokens_it_accepts(stack: LocalStack, home: Path) -> None:
    running = RunningStack.find(home)

    assert running is not None
    assert running.api_url == stack.api_url
    assert running.endpoint_url == stack.endpoints.endpoint_url
    assert running.edge_url == stack.endpoints.edge_url
    assert running.environment["CDN_BASE_URL"] == stack.endpoints.edge_url
    token = running.mint_token("tenant-a", "user-1", roles=["author"])
    response = requests.get(
        f"{running.api_url}/v1/packages", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.status_code == 200


def test_the_dev_issuer_key_is_private_to_the_user(stack: LocalStack, home: Path) -> None:
    mode = stat.S_IMODE((home / "dev-issuer-key.json").stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_a_second_stack_in_the_same_process_is_refused(stack: LocalStack, tmp_path: Path) -> None:
    with pytest.raises(StackAlreadyRunningError):
        LocalStack(home=tmp_path).start()


def test_stopping_removes_the_state_and_restores_the_environment(tmp_path: Path, stack: LocalStack) -> None:
    # Runs last in this module: it needs the module's stack stopped first.
    stack.stop()
    before = os.environ.get("AWS_ENDPOINT_URL")
    with LocalStack(
        home=tmp_path, handlers={"ApiFunction": Probe(), "BuildPackageFunction": Probe()}
    ) as second:
        assert (tmp_path / "local.json").exists()
        assert os.environ["AWS_ENDPOINT_URL"] == second.endpoints.endpoint_url
    assert not (tmp_path / "local.json").exists()
    assert RunningStack.find(tmp_path) is None
    assert os.environ.get("AWS_ENDPOINT_URL") == before
