"""The API function: API Gateway REST events → the resolver."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from content_service.api.app import handle

logger = Logger()


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict, context: LambdaContext) -> dict:
    return handle(event, context)
