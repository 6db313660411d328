"""``residency_scan.scan`` on in-process moto: each service it covers finds a planted needle, in
the right region only, and what it promises not to read (SQS messages) stays unread."""

from __future__ import annotations

import time

import boto3
import pytest

from content_service.local.residency_scan import Finding, scan
from content_service.local.template import LocalTemplate

NEEDLE = "tenant-planted-1"


def test_each_service_finds_the_planted_tenant_and_only_in_its_region(aws_template: LocalTemplate) -> None:
    s3 = boto3.client("s3", region_name="us-west-2")
    s3.create_bucket(Bucket="us-bucket", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    s3.put_bucket_versioning(Bucket="us-bucket", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="us-bucket", Key="a", Body=b"x" * 10 + NEEDLE.encode())
    s3.put_object(Bucket="us-bucket", Key="a", Body=b"clean")  # the needle lives on in the old version
    s3.put_object(Bucket="us-bucket", Key="b", Body=b"-", Metadata={"tenant": NEEDLE})
    s3.put_object(Bucket="us-bucket", Key="late", Body=b"y" * 64 + NEEDLE.encode())
    kms = boto3.client("kms", region_name="us-west-2")
    key_id = kms.create_key(Description=f"key of {NEEDLE}", Tags=[{"TagKey": "t", "TagValue": NEEDLE}])[
        "KeyMetadata"
    ]["KeyId"]
    kms.create_alias(AliasName=f"alias/{NEEDLE}", TargetKeyId=key_id)
    logs = boto3.client("logs", region_name="us-west-2")
    logs.create_log_group(logGroupName="/aws/lambda/api")
    logs.create_log_stream(logGroupName="/aws/lambda/api", logStreamName="s")
    logs.put_log_events(
        logGroupName="/aws/lambda/api",
        logStreamName="s",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": f"t={NEEDLE}"}],
    )
    sqs = boto3.client("sqs", region_name="us-west-2")
    named = sqs.create_queue(QueueName=f"q-{NEEDLE}")["QueueUrl"]
    quiet = sqs.create_queue(QueueName="quiet")["QueueUrl"]
    sqs.send_message(QueueUrl=quiet, MessageBody=NEEDLE)

    findings = scan(None, ["us-west-2"], NEEDLE, body_limit=32)
    assert sorted(findings, key=str) == sorted(
        [
            Finding("s3", "us-west-2", "us-bucket", "a (body)"),
            Finding("s3", "us-west-2", "us-bucket", "b (metadata)"),
            Finding("kms", "us-west-2", key_id, f"alias alias/{NEEDLE}"),
            Finding("kms", "us-west-2", key_id, "description"),
            Finding("kms", "us-west-2", key_id, "tags"),
            Finding("logs", "us-west-2", "/aws/lambda/api", "event in s"),
            Finding("sqs", "us-west-2", named, "queue name"),
        ],
        key=str,
    ), "'late' is past the body limit and the quiet queue's message is not read"
    # The same resources are not another region's: us-east-1 (and the template's eu-west-1) is clean.
    assert scan(None, ["us-east-1"], NEEDLE) == []


def test_an_empty_needle_is_refused() -> None:
    with pytest.raises(ValueError, match="needle is empty"):
        scan(None, ["us-east-1"], "")
