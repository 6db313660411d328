"""The withdrawal worker: chunks of a package-version withdrawal (SQS) → bundles revoked, devices told.

Each message is one chunk of holding bundles (``WithdrawalChunk``). Many invocations run at once
(the event source's MaximumConcurrency); a chunk that fails is retried by SQS and, after
maxReceiveCount, parked in the dead-letter queue for an operator. Redelivery is harmless: every
bundle and feed write is idempotent and a chunk counts once towards the withdrawal's progress.
"""

import json

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from content_service.bootstrap import dependencies
from content_service.domain.withdrawal import WithdrawalChunk

logger = Logger()
# Figures are written at once by the service's metrics adapter (EMF), so no flush decorator.
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)


def run_chunk(record: SQSRecord) -> None:
    chunk = WithdrawalChunk.from_dict(json.loads(record.body))
    told = dependencies().withdrawals.run_chunk(chunk)
    logger.info(
        "chunk done", extra={"withdrawal_id": chunk.withdrawal_id, "chunk": chunk.number, "devices": told}
    )


@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(
        event=event, record_handler=run_chunk, processor=processor, context=context
    )
