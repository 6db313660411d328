"""Reading upload notifications: S3 event records, delivered inside SQS messages.

A message that is not an S3 notification, or a record without a bucket and key, can never be
built however often it is retried: it is logged and dropped here, instead of failing the batch
item until it lands in the dead-letter queue.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadedObject:
    bucket: str
    key: str
    size: int


def uploaded_objects(message_body: str) -> list[UploadedObject]:
    """The objects an S3 notification announces (none for S3's test event or a malformed message).

    S3 event keys arrive URL-encoded (spaces as '+'), so they are decoded here, once.
    """
    try:
        payload = json.loads(message_body)
    except (json.JSONDecodeError, TypeError):
        logger.warning("dropped a build message that is not JSON: %.200r", message_body)
        return []
    if not isinstance(payload, dict):
        logger.warning("dropped a build message that is not an S3 notification: %.200r", message_body)
        return []
    if payload.get("Event") == "s3:TestEvent":
        return []
    records = payload.get("Records")
    if not isinstance(records, list):
        logger.warning("dropped a build message without Records: %.200r", message_body)
        return []
    objects = []
    for record in records:
        uploaded = _created_object(record)
        if uploaded is not None:
            objects.append(uploaded)
    return objects


def _created_object(record: Any) -> UploadedObject | None:
    if not isinstance(record, dict) or not str(record.get("eventName", "")).startswith("ObjectCreated:"):
        return None
    try:
        s3 = record["s3"]
        bucket, key = s3["bucket"]["name"], s3["object"]["key"]
        size = int(s3["object"].get("size", 0))
    except (KeyError, TypeError, ValueError, AttributeError):
        logger.warning("dropped an S3 record without a bucket, key and size: %.200r", record)
        return None
    if not isinstance(bucket, str) or not isinstance(key, str):
        logger.warning("dropped an S3 record whose bucket or key is not a string: %.200r", record)
        return None
    return UploadedObject(bucket, unquote_plus(key), size)
