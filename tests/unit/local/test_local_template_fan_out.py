"""The local view of template.yaml keeps what the fan-out needs: its stream mapping and its bus."""

from __future__ import annotations

from pathlib import Path

from content_service.local.template import StreamEventSource, load_local_template

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
