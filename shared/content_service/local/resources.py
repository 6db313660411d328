"""Create the template's tables, queues, buckets, event buses, KMS keys and secrets in moto with boto3."""

from __future__ import annotations

from typing import Any

import boto3

from content_service.local.distribution import provide_cdn_key_pair, seed_cloudfront_ids
from content_service.local.keys import create_keys, create_secrets, put_cdn_private_key
from content_service.local.template import BucketSpec, LocalTemplate, TableSpec


def create_resources(template: LocalTemplate) -> None:
    """Create every table, queue, bucket, key and secret, and record the physical values moto assigned.

    Queues come before buckets because S3 checks a notification's destination queue exists;
    CloudFront ids come before secrets because the CDN key secret names the public key's id.
    When the template's CDN public key has no value, a key pair is made and its private half put
    into the CDN key secret, as an operator does after a deploy.
    """
    cdn_key_pair = provide_cdn_key_pair(template)
    seed_cloudfront_ids(template)
    dynamodb = boto3.client("dynamodb")
    for table in template.tables.values():
        _create_table(dynamodb, template, table)
    sqs = boto3.client("sqs")
    for queue in template.queues_in_creation_order():
        url = sqs.create_queue(QueueName=queue.name, Attributes=queue.attributes)["QueueUrl"]
        template.resolver.refs[queue.logical_id] = url
        template.resolver.attributes[(queue.logical_id, "QueueUrl")] = url
    s3 = boto3.client("s3")
    for bucket in template.buckets.values():
        _create_bucket(s3, template.region, bucket)
    events = boto3.client("events")
    for logical_id in template.of_type("AWS::Events::EventBus"):
        events.create_event_bus(Name=template.resolver.refs[logical_id])
    create_keys(template, boto3.client("kms"))
    secretsmanager = boto3.client("secretsmanager")
    create_secrets(template, secretsmanager)
    if cdn_key_pair is not None:
        put_cdn_private_key(template, secretsmanager, cdn_key_pair.private_key_pem)


def _create_table(dynamodb: Any, template: LocalTemplate, table: TableSpec) -> None:
    description = dynamodb.create_table(**table.create_args)["TableDescription"]
    if table.ttl_attribute:
        dynamodb.update_time_to_live(
            TableName=table.name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
        )
    if "LatestStreamArn" in description:
        template.resolver.attributes[(table.logical_id, "StreamArn")] = description["LatestStreamArn"]


def create_bucket_in(s3: Any, name: str, region: str) -> None:
    """CreateBucket in ``region``; us-east-1 takes no location constraint (S3 refuses one naming it)."""
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})


def _create_bucket(s3: Any, region: str, bucket: BucketSpec) -> None:
    create_bucket_in(s3, bucket.name, region)
    if bucket.public_access_block:
        s3.put_public_access_block(
            Bucket=bucket.name, PublicAccessBlockConfiguration=bucket.public_access_block
        )
    if bucket.encryption:
        s3.put_bucket_encryption(Bucket=bucket.name, ServerSideEncryptionConfiguration=bucket.encryption)
    if bucket.versioning:
        s3.put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration={"Status": bucket.versioning})
    if bucket.cors:
        s3.put_bucket_cors(Bucket=bucket.name, CORSConfiguration=bucket.cors)
    if bucket.notification:
        # moto delivers ObjectCreated notifications to SQS itself, in server mode too.
        s3.put_bucket_notification_configuration(
            Bucket=bucket.name, NotificationConfiguration=bucket.notification
        )
