"""The local event-source runner: plays the Lambda service for SQS, DynamoDB streams and schedules.

Each event source mapping from template.yaml gets one poller thread, as Lambda keeps one poller
per mapping. Semantics kept from Lambda:

* SQS: batches up to ``BatchSize``, as many at once as ``ScalingConfig.MaximumConcurrency``
  (one poller thread each, capped by ``RunnerSettings.max_sqs_pollers``); a handler exception fails the whole batch; with
  ``ReportBatchItemFailures`` only the listed messages fail, and a malformed list fails the
  whole batch. Successes are deleted; failures stay on the queue, reappear after the visibility
  timeout, and moto's redrive policy moves them to the DLQ once ``maxReceiveCount`` is reached.
* DynamoDB streams: records in order per shard; a failed batch is retried from the first failed
  record (``ReportBatchItemFailures``) or from its start, up to ``MaximumRetryAttempts``; with
  ``BisectBatchOnFunctionError`` a batch whose invocation raised is split in two halves retried on
  their own; a batch out of attempts is described to the ``DestinationConfig.OnFailure`` queue.
* Schedules: fire every ``rate(...)`` period, optionally sped up for tests.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from content_service.local.cold_start import clear_cached_state
from content_service.local.event_shapes import (
    dynamodb_stream_event,
    scheduled_event,
    sqs_event,
    stream_failure_record,
)
from content_service.local.lambda_runtime import Handler, LambdaContext
from content_service.local.template import (
    FunctionSpec,
    LocalTemplate,
    ScheduleEventSource,
    SqsEventSource,
    StreamEventSource,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunnerSettings:
    """Knobs that trade faithfulness for speed in tests and local development."""

    poll_wait_seconds: int = 1
    """SQS long-poll wait; short so that stop() returns promptly."""
    failed_visibility_timeout: int | None = None
    """None leaves a failed message invisible for the queue's own timeout, as Lambda does;
    a number shortens it so that retries happen within a test or a demo."""
    schedule_speedup: float = 1.0
    """Divides every schedule's period (60.0 turns rate(5 minutes) into every 5 seconds)."""
    schedules_enabled: bool = True
    stream_poll_interval: float = 0.2
    serialize_invocations: bool = False
    """One handler at a time, process-wide. Lambda runs each function in its own process; in-process,
    libraries with global state can mix up concurrent invocations. Log lines no longer need it (the
    runtime gives each invocation thread-local log fields, ``lambda_runtime.with_own_log_context``);
    serializing remains for any other process-wide state."""
    max_sqs_pollers: int = 8
    """The most poller threads one SQS mapping gets, whatever its MaximumConcurrency says."""
    stream_default_max_retries: int = 2
    """Used when the template leaves MaximumRetryAttempts at -1 (infinite), so a poison record
    cannot block a local shard forever."""


@dataclass(frozen=True)
class BatchOutcome:
    """What a handler invocation meant for a batch: which item ids failed (all on exception)."""

    failed_ids: frozenset[str]
    raised: bool = False
    """The handler raised (a function error), as opposed to reporting item failures."""


class EventSourceRunner:
    """Polls every event source template.yaml maps to a function and invokes its handler."""

    def __init__(
        self,
        template: LocalTemplate,
        handlers: dict[str, Handler],
        settings: RunnerSettings | None = None,
    ) -> None:
        self.template = template
        self.handlers = handlers
        self.settings = settings or RunnerSettings()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._invocation_lock = threading.RLock() if self.settings.serialize_invocations else None

    def start(self) -> None:
        """Start one daemon poller thread per event source of every function with a handler."""
        for spec in self.template.functions.values():
            if spec.logical_id not in self.handlers:
                logger.warning(
                    "no handler for %s (%s); its events are not polled", spec.logical_id, spec.handler_file
                )
                continue
            for source in spec.events:
                target = self._poller_for(spec, source)
                if target is None:
                    continue
                pollers = 1
                if isinstance(source, SqsEventSource):
                    pollers = max(1, min(source.maximum_concurrency, self.settings.max_sqs_pollers))
                for index in range(pollers):
                    thread = threading.Thread(
                        target=target, name=f"{spec.logical_id}.{source.name}.{index}", daemon=True
                    )
                    thread.start()
                    self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every poller to stop and wait for in-flight invocations to finish."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """Invoke a function's handler once, as a synchronous Lambda invoke would; exceptions propagate."""
        spec = self.template.functions[logical_id]
        context = LambdaContext(
            function_name=self.template.resolver.refs[logical_id],
            timeout_seconds=spec.timeout,
            memory_limit_in_mb=spec.memory_mb,
            region=self.template.region,
            account_id=self.template.account_id,
        )
        if self._invocation_lock is None:
            return self.handlers[logical_id](event, context)
        with self._invocation_lock:
            return self.handlers[logical_id](event, context)

    def invoke_in_region(
        self, logical_id: str, event: dict[str, Any], region: str, environment: Mapping[str, str]
    ) -> Any:
        """Invoke a function as another region's copy of it: with that region's environment.

        Handlers read their settings from ``os.environ`` (once, then cached), so another region's
        function runs with ``environment`` in place and every cached setting and client dropped,
        and both are put back afterwards. That is only safe while no other invocation runs, so it
        needs ``serialize_invocations``.
        """
        if self._invocation_lock is None:
            raise RuntimeError("another region's invocation needs RunnerSettings(serialize_invocations=True)")
        spec = self.template.functions[logical_id]
        context = LambdaContext(
            function_name=self.template.resolver.refs[logical_id],
            timeout_seconds=spec.timeout,
            memory_limit_in_mb=spec.memory_mb,
            region=region,
            account_id=self.template.account_id,
        )
        with self._invocation_lock:
            saved = dict(os.environ)
            os.environ.update(environment)
            clear_cached_state()
            try:
                return self.handlers[logical_id](event, context)
            finally:
                os.environ.clear()
                os.environ.update(saved)
                clear_cached_state()

    def _poller_for(self, spec: FunctionSpec, source: Any) -> Callable[[], None] | None:
        if isinstance(source, SqsEventSource):
            return lambda: self._poll_queue(spec, source)
        if isinstance(source, StreamEventSource):
            return lambda: self._poll_stream(spec, source)
        if isinstance(source, ScheduleEventSource) and self.settings.schedules_enabled:
            return lambda: self._run_schedule(spec, source)
        return None  # Api events are served by the gateway, not polled.

    def _invoke_batch(
        self, spec: FunctionSpec, event: dict[str, Any], item_ids: list[str], reports_failures: bool
    ) -> BatchOutcome:
        try:
            response = self.invoke(spec.logical_id, event)
        except Exception:
            logger.exception("%s failed; the whole batch of %d is retried", spec.logical_id, len(item_ids))
            return BatchOutcome(frozenset(item_ids), raised=True)
        if not reports_failures:
            return BatchOutcome(frozenset())
        return BatchOutcome(_reported_failures(spec.logical_id, response, item_ids))

    # ------------------------------------------------------------------ SQS
    def _poll_queue(self, spec: FunctionSpec, source: SqsEventSource) -> None:
        queue = self.template.queues[source.queue_logical_id]
        url = self.template.resolver.refs[queue.logical_id]
        sqs = boto3.client("sqs")
        while not self._stop.is_set():
            try:
                response = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=min(source.batch_size, 10),
                    WaitTimeSeconds=self.settings.poll_wait_seconds,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                    MessageSystemAttributeNames=["All"],
                )
            except Exception:
                if self._stop.is_set():
                    return
                logger.exception("receiving from %s failed", queue.name)
                self._stop.wait(1.0)
                continue
            messages = response.get("Messages", [])
            if messages:
                self._deliver_messages(spec, source, sqs, url, queue.arn, messages)

    def _deliver_messages(
        self,
        spec: FunctionSpec,
        source: SqsEventSource,
        sqs: Any,
        url: str,
        queue_arn: str,
        messages: list[dict[str, Any]],
    ) -> None:
        ids = [message["MessageId"] for message in messages]
        event = sqs_event(messages, queue_arn, self.template.region)
        outcome = self._invoke_batch(spec, event, ids, source.report_batch_item_failures)
        done = [m for m in messages if m["MessageId"] not in outcome.failed_ids]
        if done:
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        if outcome.failed_ids and self.settings.failed_visibility_timeout is not None:
            for message in messages:
                if message["MessageId"] in outcome.failed_ids:
                    sqs.change_message_visibility(
                        QueueUrl=url,
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=self.settings.failed_visibility_timeout,
                    )

    # -------------------------------------------------------- DynamoDB streams
    def _poll_stream(self, spec: FunctionSpec, source: StreamEventSource) -> None:
        table = self.template.tables[source.table_logical_id]
        stream_arn = boto3.client("dynamodb").describe_table(TableName=table.name)["Table"]["LatestStreamArn"]
        streams = boto3.client("dynamodbstreams")
        shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
        iterators = {
            shard["ShardId"]: streams.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType=source.starting_position
            )["ShardIterator"]
            for shard in shards
        }
        pending: dict[str, list[dict[str, Any]]] = {shard_id: [] for shard_id in iterators}
        while not self._stop.is_set():
            busy = False
            for shard_id in list(iterators):
                if not pending[shard_id] and iterators[shard_id]:
                    response = streams.get_records(ShardIterator=iterators[shard_id], Limit=source.batch_size)
                    iterators[shard_id] = response.get("NextShardIterator")
                    pending[shard_id] = response.get("Records", [])
                if pending[shard_id]:
                    busy = True
                    pending[shard_id] = self._deliver_stream_batch(
                        spec, source, stream_arn, shard_id, pending[shard_id]
                    )
            if not busy:
                self._stop.wait(self.settings.stream_poll_interval)

    def _deliver_stream_batch(
        self,
        spec: FunctionSpec,
        source: StreamEventSource,
        stream_arn: str,
        shard_id: str,
        records: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """Deliver one batch until it succeeds, is split, or runs out of attempts; return the rest."""
        max_retries = source.maximum_retry_attempts
        if max_retries < 0:
            max_retries = self.settings.stream_default_max_retries
        batch = records[: source.batch_size]
        self._settle_stream_batch(spec, source, stream_arn, shard_id, batch, max_retries)
        return records[len(batch) :]

    def _settle_stream_batch(
        self,
        spec: FunctionSpec,
        source: StreamEventSource,
        stream_arn: str,
        shard_id: str,
        batch: list[dict[str, Any]],
        retries_left: int,
    ) -> None:
        attempt = 0
        while batch:
            sequence_numbers = [record["dynamodb"]["SequenceNumber"] for record in batch]
            event = dynamodb_stream_event(batch, stream_arn)
            outcome = self._invoke_batch(spec, event, sequence_numbers, source.report_batch_item_failures)
            if not outcome.failed_ids:
                return
            if outcome.raised and source.bisect_batch_on_function_error and len(batch) > 1:
                # Lambda splits a batch whose invocation errored and retries each half on its own.
                half = len(batch) // 2
                self._settle_stream_batch(
                    spec, source, stream_arn, shard_id, batch[:half], retries_left - attempt
                )
                self._settle_stream_batch(
                    spec, source, stream_arn, shard_id, batch[half:], retries_left - attempt
                )
                return
            # Lambda resumes from the lowest failed sequence number: later records are redelivered too.
            first_failed = min(i for i, number in enumerate(sequence_numbers) if number in outcome.failed_ids)
            batch = batch[first_failed:]
            if attempt >= retries_left:
                self._give_up(spec, source, stream_arn, shard_id, batch, attempt + 1)
                return
            attempt += 1
            if self._stop.wait(min(0.1 * 2 ** (attempt - 1), 2.0)):
                return

    def _give_up(
        self,
        spec: FunctionSpec,
        source: StreamEventSource,
        stream_arn: str,
        shard_id: str,
        batch: list[dict[str, Any]],
        invocations: int,
    ) -> None:
        logger.error(
            "%s: giving up on %d stream records after %d invocations",
            spec.logical_id,
            len(batch),
            invocations,
        )
        if source.on_failure_queue_logical_id is None:
            return
        url = self.template.resolver.refs[source.on_failure_queue_logical_id]
        record = stream_failure_record(
            batch,
            stream_arn=stream_arn,
            shard_id=shard_id,
            function_arn=self.template.resolver.attributes[(spec.logical_id, "Arn")],
            invocations=invocations,
        )
        boto3.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(record))

    # ------------------------------------------------------------- schedules
    def _run_schedule(self, spec: FunctionSpec, source: ScheduleEventSource) -> None:
        period = source.rate_seconds / max(self.settings.schedule_speedup, 1e-6)
        rule = f"{self.template.stack_name}-{spec.logical_id}-{source.name}"
        while not self._stop.wait(period):
            event = scheduled_event(rule, self.template.region, self.template.account_id, source.input)
            try:
                self.invoke(spec.logical_id, event)
            except Exception:
                logger.exception("scheduled invocation of %s failed", spec.logical_id)


def _reported_failures(function: str, response: Any, item_ids: list[str]) -> frozenset[str]:
    """Interpret a ReportBatchItemFailures response exactly as Lambda does."""
    if response is None or response == {}:
        return frozenset()
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if failures is None:
        return frozenset()
    identifiers = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
    if any(not identifier or identifier not in item_ids for identifier in identifiers):
        # An empty, missing or unknown identifier makes Lambda treat the whole batch as failed.
        logger.error("%s returned an invalid batchItemFailures list; the whole batch fails", function)
        return frozenset(item_ids)
    return frozenset(identifiers)  # type: ignore[arg-type]
