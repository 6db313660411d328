"""Queues the service itself sends to."""

from __future__ import annotations

import json
from typing import Any

from content_service import correlation


class SqsExportQueue:
    """ExportQueue on the export queue: one message per job."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._queue_url = queue_url

    def send(self, tenant_id: str, export_id: str) -> None:
        message: dict[str, Any] = {
            "QueueUrl": self._queue_url,
            "MessageBody": json.dumps({"tenant_id": tenant_id, "export_id": export_id}),
        }
        correlation_id = correlation.current()
        if correlation_id:
            message["MessageAttributes"] = {
                correlation.ATTRIBUTE: {"DataType": "String", "StringValue": correlation_id}
            }
        self._sqs.send_message(**message)
