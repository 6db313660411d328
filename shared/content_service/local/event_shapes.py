"""Build the event payloads Lambda hands to functions, from what the AWS APIs return.

The shapes follow the documented Lambda events (SQS, DynamoDB Streams, EventBridge scheduled
events) so that the same handlers, and the same sample events under ``events/``, work locally
and in AWS.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any


def sqs_event(messages: Iterable[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The ``Records`` event Lambda's SQS poller delivers for a batch of received messages."""
    return {"Records": [_sqs_record(message, queue_arn, region) for message in messages]}


def _sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _sqs_message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _sqs_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    # The SQS API says "StringValue"; the Lambda event says "stringValue" and always has the list keys.
    attribute: dict[str, Any] = {
        "dataType": value["DataType"],
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [base64.b64encode(v).decode() for v in value.get("BinaryListValues", [])],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute


def dynamodb_stream_event(records: Iterable[dict[str, Any]], stream_arn: str) -> dict[str, Any]:
    """The ``Records`` event Lambda's stream poller delivers for a batch of stream records."""
    return {"Records": [{**_jsonable(record), "eventSourceARN": stream_arn} for record in records]}


def _jsonable(value: Any) -> Any:
    # boto3 turns ApproximateCreationDateTime into a datetime and B/BS values into bytes; the Lambda
    # event carries epoch seconds and base64 text instead.
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(item) for item in value]
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    return value


def stream_failure_record(
    records: list[dict[str, Any]], *, stream_arn: str, shard_id: str, function_arn: str, invocations: int
) -> dict[str, Any]:
    """The invocation record Lambda sends to a stream mapping's on-failure destination.

    It describes the batch (shard and sequence range), not its records: an operator reads them
    back from the stream with the sequence numbers while the stream still holds them.
    """
    arrivals = [record["dynamodb"].get("ApproximateCreationDateTime") for record in records]
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": invocations,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": str(_jsonable(arrivals[0])),
            "approximateArrivalOfLastRecord": str(_jsonable(arrivals[-1])),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }


def scheduled_event(rule_name: str, region: str, account_id: str, detail: Any = None) -> dict[str, Any]:
    """The EventBridge ``Scheduled Event`` a ``Type: Schedule`` function receives."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account_id}:rule/{rule_name}"],
        "detail": detail if detail is not None else {},
    }
