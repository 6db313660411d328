"""The fan-out function: the table's stream (the outbox) → the event bus and the sync projection.

Each batch's events are published first, in PutEvents batches; then every record is applied to
the consumers. A record whose events the bus refused, or whose consumers failed, is reported
(ReportBatchItemFailures) and the stream redelivers from it; the inbox makes redelivery harmless.
"""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from content_service import correlation
from content_service.adapters.stream import outbox_row
from content_service.bootstrap import dependencies
from content_service.observability import correlated

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    fan_out = dependencies().fan_out
    rows = [row for record in event.get("Records", []) if (row := outbox_row(record)) is not None]
    refused = fan_out.publish(rows)

    # Each record is handled under the correlation id its write stored, so the revocations and
    # feed entries it causes (and their events) carry the id of the request that started it.
    def consume(record: DynamoDBRecord) -> None:
        row = outbox_row(record.raw_event)
        if row is not None:
            with correlated(logger, tracer, correlation.of_events(row.events) or record.event_id):
                fan_out.consume(row, refused)

    return process_partial_response(event=event, record_handler=consume, processor=processor, context=context)
