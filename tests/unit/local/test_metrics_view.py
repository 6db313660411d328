"""`local metrics`: the figures the local stack's functions wrote, folded per figure and dimensions."""

from __future__ import annotations

import json
from pathlib import Path

from aws_lambda_powertools.metrics import MetricUnit

from content_service.adapters.metrics import EmfMetrics
from content_service.local.metrics_view import read_summaries, summarise


def test_the_adapter_appends_each_figure_and_the_view_folds_them(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    log = tmp_path / "metrics.jsonl"
    metrics = EmfMetrics("ContentService", "content-service", log)
    for latency in range(1, 21):
        metrics.milliseconds("ApiLatency", float(latency), operation="get_bundle")
    metrics.count("ApiRequests", operation="get_bundle")
    metrics.count("ApiRequests", operation="list_bundles")

    summaries = {(s.name, s.dimensions): s for s in read_summaries(log)}

    latency = summaries[("ApiLatency", (("operation", "get_bundle"),))]
    assert (len(latency.values), latency.total, latency.p95, latency.unit) == (20, 210.0, 19.0, MetricUnit.Milliseconds.value)
    assert summaries[("ApiRequests", (("operation", "list_bundles"),))].total == 1
    # Disabled metrics print no EMF line (single_metric alone would), yet the local log has them.
    assert capsys.readouterr().out == ""


def test_torn_or_foreign_lines_and_old_figures_are_skipped() -> None:
    lines = [
        json.dumps({"t": 100, "name": "BuildSucceeded", "unit": "Count", "value": 1, "dimensions": {}}),
        json.dumps({"t": 10, "name": "BuildSucceeded", "unit": "Count", "value": 5, "dimensions": {}}),
        '{"t": 101, "name": "BuildSucc',
        "not json",
        json.dumps({"name": "x"}),
        json.dumps([1, 2]),
    ]
    (summary,) = summarise(lines, since=50)
    assert (summary.name, summary.values) == ("BuildSucceeded", [1.0])


def test_without_a_local_log_nothing_is_written(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    EmfMetrics("ContentService", "content-service").count("ApiRequests")
    assert list(tmp_path.iterdir()) == []
