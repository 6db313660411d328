"""The sweep function: on a schedule, fail packages left building past the build timeout,
exports left pending past the export timeout and assistant generations past theirs."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from content_service.bootstrap import dependencies
from content_service.observability import correlated
from content_service.service.assistant import fail_abandoned_assistant_generations
from content_service.service.exports import fail_abandoned_exports
from content_service.service.packages import fail_abandoned_builds
from content_service.service.telemetry import (
    record_abandoned_assistant_generations,
    record_abandoned_builds,
    record_abandoned_exports,
)

logger = Logger()
tracer = Tracer()


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    with correlated(logger, tracer, event.get("id")):
        return _sweep()


def _sweep() -> dict:
    deps = dependencies()
    failed = fail_abandoned_builds(
        packages=deps.packages, clock=deps.clock, build_timeout_seconds=deps.settings.build_timeout_seconds
    )
    failed_exports = fail_abandoned_exports(
        exports=deps.exports, clock=deps.clock, export_timeout_seconds=deps.settings.export_timeout_seconds
    )
    failed_generations = fail_abandoned_assistant_generations(
        generations=deps.assistant_generations,
        clock=deps.clock,
        timeout_seconds=deps.settings.assistant_job_timeout_seconds,
    )
    record_abandoned_builds(deps.metrics, failed)
    record_abandoned_exports(deps.metrics, failed_exports)
    record_abandoned_assistant_generations(deps.metrics, failed_generations)
    logger.info(
        "sweep finished",
        extra={
            "failed": [f"{p.package_id}/v{p.version}" for p in failed],
            "failed_exports": [job.export_id for job in failed_exports],
            "failed_assistant_generations": [job.generation_id for job in failed_generations],
        },
    )
    return {
        "failed": len(failed),
        "failed_exports": len(failed_exports),
        "failed_assistant_generations": len(failed_generations),
    }
