"""The consumers' inbox on the single table: one item per (consumer, event id), expiring by TTL.

Key: pk = ``INBOX#{event_id}``, sk = ``{consumer}``; ``ttl`` (epoch seconds) lets DynamoDB
delete the marker once redelivery is impossible (streams keep records for 24 hours).
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from content_service.migrations.kinds import stamped


class DynamoInbox:
    def __init__(self, client: Any, table_name: str, ttl_seconds: int) -> None:
        self._client = client
        self._table = table_name
        self._ttl = ttl_seconds

    def seen(self, consumer: str, event_id: str) -> bool:
        item = self._client.get_item(
            TableName=self._table, Key=self._key(consumer, event_id), ConsistentRead=True
        ).get("Item")
        return item is not None

    def mark(self, consumer: str, event_id: str) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=stamped(
                    {
                        **self._key(consumer, event_id),
                        "entity": {"S": "inbox"},
                        "ttl": {"N": str(int(time.time()) + self._ttl)},
                    }
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            # Another delivery finished the same event first: the inbox already says so.
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    @staticmethod
    def _key(consumer: str, event_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"INBOX#{event_id}"}, "sk": {"S": consumer}}
