"""Queues the service itself sends to."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from content_service import correlation
from content_service.domain.withdrawal import WithdrawalChunk


class _JobQueue:
    """One message per job, naming the tenant and the job; the correlation id rides as an attribute."""

    id_field = ""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._queue_url = queue_url

    def send(self, tenant_id: str, job_id: str) -> None:
        message: dict[str, Any] = {
            "QueueUrl": self._queue_url,
            "MessageBody": json.dumps({"tenant_id": tenant_id, self.id_field: job_id}),
        }
        correlation_id = correlation.current()
        if correlation_id:
            message["MessageAttributes"] = {
                correlation.ATTRIBUTE: {"DataType": "String", "StringValue": correlation_id}
            }
        self._sqs.send_message(**message)


class SqsExportQueue(_JobQueue):
    """ExportQueue on the export queue: one message per job."""

    id_field = "export_id"


class SqsAssistantQueue(_JobQueue):
    """AssistantQueue on the assistant queue: one message per generation job."""

    id_field = "generation_id"


class SqsWithdrawalQueue:
    """ChunkQueue on the withdrawal queue: one message per chunk, sent ten to a SendMessageBatch."""

    def __init__(self, client: Any, queue_url: str, attempts: int = 3) -> None:
        self._sqs = client
        self._queue_url = queue_url
        self._attempts = attempts

    def send(self, chunks: Sequence[WithdrawalChunk]) -> None:
        for start in range(0, len(chunks), 10):
            pending = {str(i): chunk for i, chunk in enumerate(chunks[start : start + 10])}
            for _ in range(self._attempts):
                response = self._sqs.send_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[
                        {"Id": entry_id, "MessageBody": json.dumps(chunk.as_dict(), separators=(",", ":"))}
                        for entry_id, chunk in pending.items()
                    ],
                )
                pending = {f["Id"]: pending[f["Id"]] for f in response.get("Failed", [])}
                if not pending:
                    break
            if pending:
                raise RuntimeError(f"SQS refused {len(pending)} withdrawal chunks; the planner is retried")
