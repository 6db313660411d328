"""Residency scan: look through every resource of some regions for a needle (a tenant id).

Proves "nothing of the tenant left the zone" on the local stack: run a tenant's whole flow in
its zone, then :func:`scan` the *other* zone's regions for its id. Pure boto3, so it runs against
the local moto endpoint (or any account the credentials reach). Per region it covers:

* **S3**: buckets whose GetBucketLocation is the region; every object *version* (and delete
  marker) key, each version's user metadata and content type, and the first ``body_limit``
  bytes of its body.
* **DynamoDB**: every table's name and every item (Scan, paginated), attribute names and values.
* **KMS**: every key's description and tags, and every alias name.
* **CloudWatch Logs**: every log group's name, its streams' names and every event's message.
* **SQS**: queue URLs and attributes (policy, redrive policy, tags). **Not messages**: a
  ReceiveMessage would hide them from their consumer for the visibility timeout, and moto has
  no peek, so a message naming the tenant on a queue goes unseen.

What it cannot see: bytes past ``body_limit``; anything encrypted or compressed (a container's
ciphertext, a gzip export; their keys and metadata still name the tenant, which is what the scan
relies on); object tags, bucket policies, Secrets Manager, EventBridge, Lambda environments and
every service not listed. A finding is where the needle appears as text (UTF-8 bytes for bodies).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import boto3

BODY_LIMIT = 1024 * 1024
"""Bytes of each object body read (a Range GET); the rest of a larger object is not scanned."""


@dataclass(frozen=True)
class Finding:
    """One place the needle appears: ``service`` ``region`` ``resource`` (bucket, table, key id,
    log group, queue URL), and ``where`` in it (an object key and part, an item's key, ...)."""

    service: str
    region: str
    resource: str
    where: str

    def __str__(self) -> str:
        return f"{self.service} {self.region} {self.resource}: {self.where}"


def scan(
    session_or_endpoint: boto3.Session | str | None,
    regions: Sequence[str],
    needle: str,
    *,
    body_limit: int = BODY_LIMIT,
) -> list[Finding]:
    """Every place ``needle`` appears in ``regions``; ``session_or_endpoint`` is a boto3 session,
    an endpoint URL (the local moto server) or None (the default session and endpoint)."""
    if not needle:
        raise ValueError("the needle is empty; every resource would match")
    findings: list[Finding] = []
    for region in regions:
        clients = _Clients(session_or_endpoint, region)
        findings += _s3(clients, region, needle, body_limit)
        findings += _dynamodb(clients, region, needle)
        findings += _kms(clients, region, needle)
        findings += _logs(clients, region, needle)
        findings += _sqs(clients, region, needle)
    return findings


class _Clients:
    def __init__(self, session_or_endpoint: boto3.Session | str | None, region: str) -> None:
        if isinstance(session_or_endpoint, boto3.Session):
            self._session, self._endpoint = session_or_endpoint, None
        else:
            self._session, self._endpoint = boto3.Session(), session_or_endpoint
        self._region = region

    def __call__(self, service: str) -> Any:
        return self._session.client(service, region_name=self._region, endpoint_url=self._endpoint)


def _text(value: Any) -> str:
    """An item or attribute set as text; binary values decode as Latin-1 (every byte is a char)."""

    def default(part: Any) -> Any:
        if isinstance(part, bytes | bytearray):
            return bytes(part).decode("latin-1")
        if isinstance(part, set | frozenset):
            return sorted(part, key=str)
        return str(part)

    return json.dumps(value, default=default, ensure_ascii=False)


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def _s3(clients: _Clients, region: str, needle: str, body_limit: int) -> Iterable[Finding]:
    s3 = clients("s3")
    raw = needle.encode()
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        # us-east-1 answers None (the legacy empty LocationConstraint); EU is eu-west-1's old name.
        location = s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
        if {"EU": "eu-west-1"}.get(location, location) != region:
            continue
        if needle in name:
            yield Finding("s3", region, name, "bucket name")
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            for marker in page.get("DeleteMarkers", []):
                if needle in marker["Key"]:
                    yield Finding("s3", region, name, f"{marker['Key']} (delete marker)")
            for version in page.get("Versions", []):
                key, version_id = version["Key"], version["VersionId"]
                if needle in key:
                    yield Finding("s3", region, name, f"{key} (key)")
                extra = {"VersionId": version_id} if version_id != "null" else {}
                obj = s3.get_object(Bucket=name, Key=key, Range=f"bytes=0-{body_limit - 1}", **extra)
                body = obj["Body"].read(body_limit)
                if needle in _text({"metadata": obj.get("Metadata", {}), "type": obj.get("ContentType")}):
                    yield Finding("s3", region, name, f"{key} (metadata)")
                if raw in body:
                    yield Finding("s3", region, name, f"{key} (body)")


def _dynamodb(clients: _Clients, region: str, needle: str) -> Iterable[Finding]:
    dynamodb = clients("dynamodb")
    for table in _pages(dynamodb, "list_tables", "TableNames"):
        if needle in table:
            yield Finding("dynamodb", region, table, "table name")
        schema = dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
        for item in _pages(dynamodb, "scan", "Items", TableName=table):
            if needle in _text(item):
                key = {part["AttributeName"]: item.get(part["AttributeName"]) for part in schema}
                yield Finding("dynamodb", region, table, f"item {_text(key)}")


def _kms(clients: _Clients, region: str, needle: str) -> Iterable[Finding]:
    kms = clients("kms")
    for alias in _pages(kms, "list_aliases", "Aliases"):
        if needle in alias["AliasName"]:
            yield Finding("kms", region, alias.get("TargetKeyId", "-"), f"alias {alias['AliasName']}")
    for key in _pages(kms, "list_keys", "Keys"):
        key_id = key["KeyId"]
        if needle in kms.describe_key(KeyId=key_id)["KeyMetadata"].get("Description", ""):
            yield Finding("kms", region, key_id, "description")
        if needle in _text(kms.list_resource_tags(KeyId=key_id).get("Tags", [])):
            yield Finding("kms", region, key_id, "tags")


def _logs(clients: _Clients, region: str, needle: str) -> Iterable[Finding]:
    logs = clients("logs")
    for group in _pages(logs, "describe_log_groups", "logGroups"):
        name = group["logGroupName"]
        if needle in name:
            yield Finding("logs", region, name, "log group name")
        for stream in _pages(logs, "describe_log_streams", "logStreams", logGroupName=name):
            if needle in stream["logStreamName"]:
                yield Finding("logs", region, name, f"stream {stream['logStreamName']}")
        for event in _pages(logs, "filter_log_events", "events", logGroupName=name):
            if needle in event.get("message", ""):
                yield Finding("logs", region, name, f"event in {event.get('logStreamName')}")


def _sqs(clients: _Clients, region: str, needle: str) -> Iterable[Finding]:
    sqs = clients("sqs")
    for url in sqs.list_queues().get("QueueUrls", []):
        if needle in url:
            yield Finding("sqs", region, url, "queue name")
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]).get("Attributes", {})
        attributes.pop("QueueArn", None)  # the queue's name again, reported above
        tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
        if needle in _text({"attributes": attributes, "tags": tags}):
            yield Finding("sqs", region, url, "attributes or tags")
