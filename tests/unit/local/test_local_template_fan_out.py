"""The local view of template.yaml keeps what the fan-out needs: its stream mapping and its bus."""

from __future__ import annotations

import json
from pathlib import Path

from content_service.local.runner import EventSourceRunner, RunnerSettings
from content_service.local.template import SqsEventSource, StreamEventSource, load_local_template

ROOT = Path(__file__).resolve().parents[3]


def test_the_fan_out_stream_mapping_keeps_bisection_retries_and_its_on_failure_queue() -> None:
    template = load_local_template(ROOT / "template.yaml")
    (source,) = template.functions["FanOutFunction"].events
    assert isinstance(source, StreamEventSource)
    assert (source.table_logical_id, source.starting_position, source.batch_size) == (
        "Table",
        "TRIM_HORIZON",
        100,
    )
    assert source.report_batch_item_failures and source.bisect_batch_on_function_error
    assert source.maximum_retry_attempts == 5
    assert source.on_failure_queue_logical_id == "FanOutDeadLetterQueue"


def test_the_event_bus_resolves_to_its_templated_name_and_reaches_the_function() -> None:
    template = load_local_template(ROOT / "template.yaml", stack_name="demo")
    assert template.resolver.refs["EventBus"] == "demo-events"
    assert template.resolver.attributes[("EventBus", "Arn")].endswith(":event-bus/demo-events")
    raw = template.functions["FanOutFunction"].raw_environment["EVENT_BUS_NAME"]
    assert template.resolver.resolve(raw) == "demo-events"


def test_the_withdrawal_queue_mapping_keeps_its_concurrency_and_dead_letter_queue() -> None:
    template = load_local_template(ROOT / "template.yaml")
    (source,) = template.functions["WithdrawFunction"].events
    assert isinstance(source, SqsEventSource)
    assert (source.queue_logical_id, source.batch_size, source.maximum_concurrency) == (
        "WithdrawalQueue",
        1,
        200,
    )
    assert source.report_batch_item_failures
    redrive = json.loads(template.queues["WithdrawalQueue"].attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith("-withdrawaldeadletterqueue")
    assert redrive["maxReceiveCount"] == 5


def test_a_queue_mapping_gets_as_many_pollers_as_its_concurrency_allows_locally() -> None:
    template = load_local_template(ROOT / "template.yaml")
    handlers = {"WithdrawFunction": lambda event, context: None}
    runner = EventSourceRunner(template, handlers, RunnerSettings(max_sqs_pollers=3, poll_wait_seconds=0))
    # Not started: the poller threads are counted as start() would make them, without polling moto.
    runner._poller_for = lambda spec, source: lambda: None  # type: ignore[method-assign]
    runner.start()
    names = sorted(thread.name for thread in runner._threads)
    runner.stop()
    assert names == [f"WithdrawFunction.Chunks.{i}" for i in range(3)]
