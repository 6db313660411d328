"""The fan-out function: the table's stream (the outbox) → the event bus and the sync projection.

Each batch's events are published first, in PutEvents batches; then every record is applied to
the consumers. A record whose events the bus refused, or whose consumers failed, is reported
(ReportBatchItemFailures) and the stream redelivers from it; the inbox makes redelivery harmless.
"""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from content_service.adapters.stream import outbox_row
from content_service.bootstrap import dependencies
from content_service.settings import get_settings

logger = Logger()
metrics = Metrics(namespace=get_settings().metrics_namespace)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    # Every batch records its size, so a flush is never empty (Powertools warns on an empty one).
    metrics.add_metric(name="FanOutRecords", unit=MetricUnit.Count, value=len(event.get("Records", [])))
    fan_out = dependencies().fan_out
    rows = [row for record in event.get("Records", []) if (row := outbox_row(record)) is not None]
    refused = fan_out.publish(rows)

    def consume(record: DynamoDBRecord) -> None:
        row = outbox_row(record.raw_event)
        if row is not None:
            fan_out.consume(row, refused)

    return process_partial_response(event=event, record_handler=consume, processor=processor, context=context)
