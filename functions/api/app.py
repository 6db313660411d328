"""The API function: API Gateway REST events → the resolver."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from content_service.api.app import handle
from content_service.observability import correlated

logger = Logger()
tracer = Tracer()


# The API Gateway request id is the correlation id: it goes on every log line, the trace, the events
# this request's writes store, and through the stream onto the published events.
@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict, context: LambdaContext) -> dict:
    with correlated(logger, tracer, logger.get_correlation_id()):
        return handle(event, context)
