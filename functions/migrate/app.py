"""The migration worker: "run this residency migration on" (SQS) → its next saved batches.

Each message names one migration (``{"v": 1, "tenant_id", "migration_id"}``). A run advances the
migration by a bounded number of saved batches and queues the next run (delayed while the grace
period lasts), so no invocation nears its timeout. A run that crashes is redelivered after the
visibility timeout and resumes from the migration's last saved batch; after maxReceiveCount the
message is parked in the dead-letter queue and the migration waits at its step for an operator.
"""

from __future__ import annotations

import json

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from content_service.bootstrap import dependencies
from content_service.domain.errors import ValidationFailed

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)


def run(record: SQSRecord) -> None:
    try:
        message = json.loads(record.body)
        if message["v"] != 1:
            raise ValueError(f"message format {message['v']!r}")
        tenant_id, migration_id = str(message["tenant_id"]), str(message["migration_id"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValidationFailed(f"not a migration run: {error}") from error
    deps = dependencies()
    outcome = deps.migration_worker.run(tenant_id, migration_id)
    if outcome.again_in is not None:
        deps.migration_queue.send(tenant_id, migration_id, delay_seconds=outcome.again_in)
    logger.info(
        "migration run",
        extra={"migration_id": migration_id, "state": outcome.migration.state.value, "again_in": outcome.again_in},
    )


@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=run, processor=processor, context=context)
