"""The storage watch: S3 notifications of the bundles bucket (via SQS) → tamper records.

A change the service did not make becomes ``content.bundle.tampered.v1`` for the bundles it
belongs to (the fan-out then revokes them by tenant policy). SQS delivers at least once; the
tamper record is keyed by the notification, so a redelivery writes nothing new.
"""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from content_service.bootstrap import dependencies
from content_service.service.storage_watch import check_bundle_object, object_changes
from content_service.settings import get_settings

logger = Logger()
metrics = Metrics(namespace=get_settings().metrics_namespace)
processor = BatchProcessor(event_type=EventType.SQS)


def check_record(record: SQSRecord) -> None:
    deps = dependencies()
    for change in object_changes(record.body):
        flagged = check_bundle_object(
            change,
            bundles=deps.bundles,
            packages=deps.packages,
            digests=deps.bundle_digests,
            tampers=deps.storage_tampers,
            metrics=deps.metrics,
        )
        if flagged:
            logger.warning("unexpected bundle object change", extra={"key": change.key, "bundles": flagged})


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    # Every batch records its size, so a flush is never empty (Powertools warns on an empty one).
    metrics.add_metric(name="StorageWatchRecords", unit=MetricUnit.Count, value=len(event.get("Records", [])))
    return process_partial_response(
        event=event, record_handler=check_record, processor=processor, context=context
    )
