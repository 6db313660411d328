"""The export function: SQS messages naming export jobs → build each export zip.

Partial batch failures: a message whose export crashed is reported and redelivered; on the
last allowed attempt the job is failed instead (``export.crashed``), so it is never left
pending. A run killed outright is failed later by the sweep (``export.abandoned``).
"""

import time

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from content_service import correlation
from content_service.bootstrap import dependencies
from content_service.observability import correlated
from content_service.service.exports import export_job_of, fail_export_after_retries, run_export
from content_service.service.telemetry import record_export

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def export_record(record: SQSRecord) -> None:
    # The API request that queued the job sent its correlation id as a message attribute.
    # Indexing (not .get, which returns the raw dict) wraps it; None when the attribute is absent.
    sent = record.message_attributes[correlation.ATTRIBUTE]
    with correlated(logger, tracer, (sent.string_value if sent else None) or record.message_id):
        _export(record)


def _export(record: SQSRecord) -> None:
    deps = dependencies()
    last_attempt = int(record.attributes.approximate_receive_count) >= deps.settings.export_max_attempts
    tenant_id, export_id = export_job_of(record.body)
    started_at, started = deps.clock.now(), time.perf_counter()
    try:
        job = run_export(
            tenant_id,
            export_id,
            exports=deps.exports,
            store=deps.store,
            blobs=deps.store,
            results=deps.export_store,
            clock=deps.clock,
            assets=deps.branding_assets,
        )
    except Exception as error:
        if not last_attempt:
            raise
        logger.exception("export crashed on its last attempt", extra={"export_id": export_id})
        job = fail_export_after_retries(
            tenant_id, export_id, type(error).__name__, exports=deps.exports, clock=deps.clock
        )
    record_export(deps.metrics, job, started_at=started_at, seconds=time.perf_counter() - started)
    logger.info("export finished", extra={"export_id": export_id, "state": job.state.value})


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(
        event=event, record_handler=export_record, processor=processor, context=context
    )
