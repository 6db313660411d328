"""The build function: SQS batches of upload notifications → build each uploaded package.

Partial batch failures: a message whose build crashed is reported and redelivered; on the
last allowed attempt the package is failed instead, so it is never left building.
"""

import time

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from content_service.bootstrap import dependencies
from content_service.observability import correlated
from content_service.packaging.allocator import tune_for_builds
from content_service.service import packages
from content_service.service.build_events import uploaded_objects
from content_service.service.telemetry import record_build

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)
# This process builds packages: keep the inflaters' freed buffers for reuse (allocator.py).
tune_for_builds()


@tracer.capture_method
def build_record(record: SQSRecord) -> None:
    with correlated(logger, tracer, record.message_id):
        _build(record)


def _build(record: SQSRecord) -> None:
    deps = dependencies()
    last_attempt = int(record.attributes.approximate_receive_count) >= deps.settings.build_max_attempts
    for uploaded in uploaded_objects(record.body):
        started = time.perf_counter()
        try:
            outcome = packages.build_uploaded_package(
                uploaded.key,
                packages=deps.packages,
                uploads=deps.uploads,
                store=deps.store,
                keys=deps.content_keys,
                containers=deps.bundle_store,
                clock=deps.clock,
                limits=deps.settings.import_limits,
                content_format=deps.settings.content_format_version,
            )
        except Exception as error:
            if not last_attempt:
                raise
            logger.exception("build crashed on its last attempt", extra={"key": uploaded.key})
            outcome = packages.fail_build_after_retries(
                uploaded.key, type(error).__name__, packages=deps.packages, clock=deps.clock
            )
        record_build(
            deps.metrics, outcome.package, changed=outcome.changed, seconds=time.perf_counter() - started
        )
        logger.info(
            "build finished",
            extra={"key": uploaded.key, "state": outcome.state, "changed": outcome.changed},
        )


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(
        event=event, record_handler=build_record, processor=processor, context=context
    )
