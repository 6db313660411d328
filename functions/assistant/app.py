"""The assistant function: SQS messages naming generation jobs → a draft assistant config each.

Partial batch failures: a message whose generation crashed, or found the generator unavailable,
is reported and redelivered; on the last allowed attempt the job is failed instead
(``assistant.crashed``), so it is never left pending. A run killed outright is failed later by
the sweep (``assistant.abandoned``).
"""

import time

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from content_service import correlation
from content_service.bootstrap import dependencies
from content_service.observability import correlated
from content_service.service.assistant import (
    assistant_job_of,
    fail_assistant_generation_after_retries,
    run_assistant_generation,
)
from content_service.service.telemetry import record_assistant_generation

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def generation_record(record: SQSRecord) -> None:
    # The API request that queued the job sent its correlation id as a message attribute.
    sent = record.message_attributes[correlation.ATTRIBUTE]
    with correlated(logger, tracer, (sent.string_value if sent else None) or record.message_id):
        _generate(record)


def _generate(record: SQSRecord) -> None:
    deps = dependencies()
    last_attempt = (
        int(record.attributes.approximate_receive_count) >= deps.settings.assistant_job_max_attempts
    )
    tenant_id, generation_id = assistant_job_of(record.body)
    started_at, started = deps.clock.now(), time.perf_counter()
    try:
        job = run_assistant_generation(
            tenant_id,
            generation_id,
            generations=deps.assistant_generations,
            packages=deps.packages,
            store=deps.store,
            blobs=deps.store,
            ai=deps.ai,
            assistants=deps.assistants,
            clock=deps.clock,
        )
    except Exception as error:
        if not last_attempt:
            raise
        logger.exception(
            "assistant generation failed on its last attempt", extra={"generation_id": generation_id}
        )
        job = fail_assistant_generation_after_retries(
            tenant_id,
            generation_id,
            type(error).__name__,
            generations=deps.assistant_generations,
            clock=deps.clock,
        )
    record_assistant_generation(
        deps.metrics, job, started_at=started_at, seconds=time.perf_counter() - started
    )
    logger.info(
        "assistant generation finished", extra={"generation_id": generation_id, "state": job.state.value}
    )


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(
        event=event, record_handler=generation_record, processor=processor, context=context
    )
